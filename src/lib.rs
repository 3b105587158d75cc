//! staffhome: the booking of a company's staff clubhouse (职工之家) through WeCom (企业微信).

pub mod app;
pub mod booking;
pub mod chat;
pub mod clock;
pub mod config;
pub mod demo;
pub mod inbox;
pub mod metrics;
pub mod notify;
pub mod outbox;
pub mod qr;
pub mod report;
pub mod scheduler;
pub mod secret;
pub mod settings;
pub mod startup;
pub mod store;
pub mod sync;
pub mod users;
pub mod web;
pub mod wecom;
pub mod workers;
