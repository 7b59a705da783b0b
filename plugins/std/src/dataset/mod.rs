//! Datasets, and the task constructions (`tasks`) that turn an image dataset into several
//! related tasks.
pub mod digits;
pub mod tasks;
