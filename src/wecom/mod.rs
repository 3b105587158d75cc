//! The WeCom protocol only: crypto, callback XML, the API client and a stand-in for tests
//! and the demo. Nothing here knows about bookings.

pub mod api;
pub mod card;
pub mod crypto;
pub mod menu;
pub mod sim;
pub mod url;
pub mod xml;

pub use crypto::{CryptoError, WeComCrypto};
pub use xml::{Inbound, InboundMessage, Reply};
