//! Plain-data types shared by the language, the runtime and the plugins.
//!
//! `value` holds the values a `.exp` file can write (numbers, strings, durations, lists);
//! `schema` holds how a plugin component describes itself (kind, parameters, defaults, ranges);
//! `graph` holds the dataflow graph that the compiler produces and the runtime executes.
//! Everything here is serde-serialisable so it can be printed (`exp graph --format json`),
//! stored in a run's manifest, and handed across the plugin boundary as JSON text.

pub mod graph;
pub mod schema;
pub mod value;

pub use graph::{
    ArtifactKind, ComponentRef, Graph, Input, ModelSize, Node, NodeId, NodeKind, Origin,
    ResourceRequest, ResourceRule, ResourceScope, Resources,
};
pub use schema::{ComponentKind, ComponentSchema, ParamSchema, ParamType, Range};
pub use value::{Duration, DurationUnit, Schedule, Value};
