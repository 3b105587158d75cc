//! The WeCom protocol only: crypto, callback XML, the API client, card builders. Nothing here
//! knows about bookings. `sim` is the stand-in for tests and the demo; no production path uses it.

pub mod api;
pub mod card;
pub mod crypto;
pub mod menu;
pub mod sim;
pub mod url;
pub mod xml;

pub use crypto::{CryptoError, WeComCrypto};
pub use xml::{Inbound, InboundMessage, Reply};
