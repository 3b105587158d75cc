//! The integration tests, in one binary (so the crate links once): each module drives the
//! real server through the signed, encrypted protocol, against the WeCom stand-in on loopback.

mod common;

mod admin;
mod approval;
mod architecture;
mod booking;
mod budget;
mod calendar;
mod cdp;
mod checkin;
mod demo;
mod faults;
mod feeds;
mod housekeeping;
mod invariants;
mod member;
mod moves;
mod offers;
mod operations;
mod outbox;
mod parser;
mod partners;
mod phone;
mod protocol;
mod robots;
mod robustness;
mod scheduler;
mod security;
mod series;
mod settings;
mod signin;
mod signout;
mod taps;
mod vectors;
mod web;
