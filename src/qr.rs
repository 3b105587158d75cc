//! QR codes as SVG: the booking pass page and the codes posted at facility doors.

use qrcode::{Color, EcLevel, QrCode};

/// The dark/light modules of the QR code for `text` (None if too long to encode).
pub fn modules(text: &str) -> Option<(usize, Vec<bool>)> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    Some((width, code.to_colors().into_iter().map(|c| c == Color::Dark).collect()))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An SVG of the QR code for `text`, `scale` px per module, with a 4-module quiet zone and an
/// optional caption under it.
pub fn svg(text: &str, scale: usize, caption: Option<&str>) -> Option<String> {
    let (width, dark) = modules(text)?;
    let quiet = 4;
    let side = (width + 2 * quiet) * scale;
    let caption_height = if caption.is_some() { scale * 8 } else { 0 };
    let mut path = String::new();
    for (i, _) in dark.iter().enumerate().filter(|(_, d)| **d) {
        let (x, y) = ((i % width + quiet) * scale, (i / width + quiet) * scale);
        path.push_str(&format!("M{x} {y}h{scale}v{scale}h-{scale}z"));
    }
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {h}" width="{side}" height="{h}" role="img"><rect width="{side}" height="{h}" fill="#fff"/><path d="{path}" fill="#000"/>"##,
        h = side + caption_height
    );
    if let Some(caption) = caption {
        svg.push_str(&format!(
            r#"<text x="{x}" y="{y}" font-size="{size}" text-anchor="middle" font-family="sans-serif">{}</text>"#,
            escape(caption),
            x = side / 2,
            y = side + caption_height / 2,
            size = scale * 5
        ));
    }
    svg.push_str("</svg>");
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_the_modules_and_an_escaped_caption() {
        let svg = svg("gym", 4, Some("健身房 <A&B>")).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("健身房 &lt;A&amp;B&gt;"));
        assert!(svg.matches('M').count() > 50);
    }
}
