//! bosun's engine: the one path every Application takes from Git to its cluster — Source,
//! Render, Plan, Apply, Assess — as library calls that `bosun render|diff|sync` and (later) the
//! controller share, so there is one implementation of each stage.

pub mod connect;
pub mod load;
pub mod pipeline;
