//! placeholder until docs helper finishes
