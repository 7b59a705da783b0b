//! `CheckError`: everything the checker can find wrong in a parsed program, with typed
//! fields, and `to_diagnostic`, which turns one into words (STYLE E2, E4, E5).
//!
//! Codes E0001 to E0003, E0038 and E0039 belong to the parser (`exp_syntax::ParseError`); the
//! checker's run from E0004 to E0037 and on from E0040, and its warnings from W0001 (an unused
//! `let`) and W0002 (an unused template parameter). A code never changes meaning once released.

use exp_diag::{Diagnostic, Span};
use exp_ir::{ComponentKind, Duration, DurationUnit};
use exp_syntax::ast::DefKind;

/// What a reference must point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A `dataset` definition.
    Dataset,
    /// Anything that produces a model: `model`, `train` or `merge`.
    Model,
    /// A report row: `evaluate` or `train`.
    Row,
    /// A `tokenizer` definition.
    Tokenizer,
    /// A `let` value, inside a `let` or an arithmetic expression.
    Value,
}

impl Expect {
    pub fn words(self) -> &'static str {
        match self {
            Expect::Dataset => "a dataset",
            Expect::Model => "a model",
            Expect::Row => "an evaluate, train or sequence definition",
            Expect::Tokenizer => "a tokenizer",
            Expect::Value => "a `let` value",
        }
    }

    pub fn accepts(self, kind: DefKind) -> bool {
        match self {
            Expect::Dataset => kind == DefKind::Dataset,
            Expect::Model => matches!(
                kind,
                DefKind::Model | DefKind::Train | DefKind::Merge | DefKind::Sequence
            ),
            Expect::Row => matches!(kind, DefKind::Evaluate | DefKind::Train | DefKind::Sequence),
            Expect::Tokenizer => kind == DefKind::Tokenizer,
            Expect::Value => false,
        }
    }
}

/// Why a report's `choose` cannot choose over an axis.
#[derive(Debug, Clone, PartialEq)]
pub enum ChooseProblem {
    /// No row is swept over it.
    NotAnAxis { suggestion: Option<String> },
    /// `seed`: replicates are averaged, never chosen among.
    Seed,
}

/// Why a report's `against` axis cannot be plotted.
#[derive(Debug, Clone, PartialEq)]
pub enum AgainstProblem {
    /// No row is swept over it.
    NotAnAxis { suggestion: Option<String> },
    /// A value of the axis is not a number (`"relu"`), so it has no place on a line chart.
    NotNumbers { value: String },
    /// `seed`: the table averages replicates over it.
    Averaged,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckError {
    ModuleNotFound {
        path: String,
        span: Span,
    },
    OnlyInMainFile {
        /// `seed` or `plugin`.
        item: &'static str,
        span: Span,
    },
    /// A top-level line the file may have once (`seed`, `policy`), written twice.
    DuplicateLine {
        item: &'static str,
        span: Span,
        first: Span,
    },
    DuplicateDefinition {
        name: String,
        span: Span,
        first: Span,
    },
    /// Copies of one definition named by a string (`train "ft_{lr}"`) that get the same name
    /// at two sweep points: the string leaves out the axes in `differing` (axis, value at the
    /// first copy, value at this one).
    CopiesCollide {
        name: String,
        /// The string as written.
        template: String,
        differing: Vec<(String, String, String)>,
        span: Span,
    },
    UndefinedName {
        name: String,
        expected: Expect,
        span: Span,
        suggestion: Option<String>,
    },
    WrongDefinitionKind {
        name: String,
        expected: Expect,
        found: DefKind,
        span: Span,
        definition: Span,
    },
    UnknownField {
        block: DefKind,
        field: String,
        span: Span,
        suggestion: Option<String>,
        known: Vec<&'static str>,
        /// The form of the block the known fields are those of, when it has several: "with
        /// `models`" for a sequence of given models.
        form: Option<&'static str>,
    },
    MissingField {
        block: DefKind,
        name: String,
        field: &'static str,
        example: &'static str,
        span: Span,
    },
    DuplicateField {
        field: String,
        span: Span,
        first: Span,
    },
    WrongFieldType {
        field: String,
        expected: String,
        found: String,
        span: Span,
        example: Option<String>,
    },
    ValueOutOfRange {
        field: String,
        value: String,
        expected: String,
        span: Span,
    },
    BadUnit {
        /// `field` or `parameter`.
        what: &'static str,
        field: String,
        expected: String,
        found: String,
        span: Span,
    },
    MergeArity {
        name: String,
        count: usize,
        span: Span,
    },
    /// A definition built on other definitions (`gpt(tok)`, `bpe(corpus)`,
    /// `huggingface(lm)`) with inputs its component cannot take: too many, too few, or any.
    Inputs {
        message: String,
        label: String,
        help: String,
        span: Span,
    },
    /// Text where a model reads fixed-size inputs, or such inputs where a model reads tokens
    /// (or a model of tokens built without a tokenizer).
    TextPairing {
        message: String,
        label: String,
        help: String,
        span: Span,
        /// Where the model or the data is defined.
        other: Option<(Span, String)>,
    },
    Cycle {
        /// The definitions around the cycle, starting and ending with the same one.
        names: Vec<String>,
        /// Where each definition in `names` refers to the next.
        uses: Vec<Span>,
        span: Span,
    },
    UnknownComponent {
        kind: ComponentKind,
        name: String,
        span: Span,
        suggestion: Option<String>,
        available: Vec<String>,
        /// A definition of that name (`model lm = gpt_tiny` where `gpt_tiny` is a `model`
        /// definition): its kind and where it is.
        definition: Option<(DefKind, Span)>,
    },
    ComponentWrongKind {
        name: String,
        expected: ComponentKind,
        found: ComponentKind,
        span: Span,
        available: Vec<String>,
    },
    UnknownParam {
        component: String,
        param: String,
        span: Span,
        suggestion: Option<String>,
        known: Vec<String>,
    },
    ParamWrongType {
        component: String,
        param: String,
        expected: String,
        found: String,
        span: Span,
        suggestion: Option<String>,
    },
    ParamOutOfRange {
        component: String,
        param: String,
        problem: String,
        /// The values the parameter accepts, in words ("a value above 0 and at most 1").
        range: String,
        span: Span,
    },
    /// `schedule:` in a phase whose optimizer has no learning-rate parameter to schedule.
    NoLearningRate {
        optimizer: String,
        span: Span,
    },
    /// The phase's `schedule:` and a schedule written as the optimizer's learning rate.
    LearningRateScheduledTwice {
        optimizer: String,
        param: String,
        span: Span,
        first: Span,
    },
    /// A rule a component states about its parameters together (its check hook), broken:
    /// `piecewise` with more values than points. `param` is the parameter it blames, if any.
    ComponentRule {
        component: String,
        param: Option<String>,
        message: String,
        span: Span,
    },
    MissingParam {
        component: String,
        param: String,
        expected: String,
        span: Span,
    },
    /// `"a" * 2`: an operator applied to values it does not work on.
    ArithmeticType {
        op: &'static str,
        lhs: String,
        /// `None` for unary minus.
        rhs: Option<String>,
        span: Span,
    },
    LetCycle {
        /// The lets around the cycle, starting and ending with the same one.
        names: Vec<String>,
        /// Where each let in `names` refers to the next.
        uses: Vec<Span>,
        span: Span,
    },
    /// `10 steps + 3 epochs`.
    DurationUnitMismatch {
        op: &'static str,
        lhs: String,
        rhs: String,
        span: Span,
    },
    DivisionByZero {
        span: Span,
    },
    /// A definition or a component where a `let` value is computed.
    NotAValue {
        /// What was written: "the model `net`", "the component `adamw`".
        found: String,
        span: Span,
        definition: Option<Span>,
    },
    /// W0001, a warning: a `let` nothing refers to.
    UnusedLet {
        name: String,
        span: Span,
    },
    /// A sweep axis whose values are not a non-empty list (or `seeds` without a count).
    SweepValues {
        axis: String,
        seeds: bool,
        found: String,
        span: Span,
    },
    /// `sweep zip` over lists of different lengths: (axis, length) of the first and the odd one.
    ZipLengths {
        first: (String, usize),
        other: (String, usize),
        span: Span,
    },
    /// A swept definition (several copies) where one definition is needed.
    FamilyWhereOneIsNeeded {
        name: String,
        members: Vec<String>,
        span: Span,
    },
    UnknownTemplate {
        name: String,
        span: Span,
        suggestion: Option<String>,
    },
    /// Arguments of a `use` that do not fit the template's parameters.
    TemplateArguments {
        template: String,
        problem: String,
        span: Span,
        params: Vec<String>,
    },
    /// A template that uses itself, directly or through others.
    RecursiveTemplate {
        chain: Vec<String>,
        span: Span,
    },
    /// `import`, `plugin`, `seed` or `template` inside a sweep or a template.
    NotAllowedInside {
        item: &'static str,
        span: Span,
    },
    /// `{name}` in a string where `name` has no literal value.
    Interpolation {
        name: String,
        span: Span,
    },
    /// W0002, a warning: a template parameter its body never uses.
    UnusedTemplateParam {
        template: String,
        param: String,
        span: Span,
    },
    /// A sweep whose grid has more than `limit` points (`count`), or sweeps and templates that
    /// together would make more than `limit` definitions (`count` unknown: expansion stopped).
    TooManyDefinitions {
        count: Option<usize>,
        limit: usize,
        span: Span,
    },
    /// A sweep axis swept again inside a sweep (or the header) that already sweeps it.
    RepeatedAxis {
        axis: String,
        /// The second is written `seeds N`.
        seeds: bool,
        span: Span,
        first: Span,
    },
    /// A report's `against` names an axis its rows cannot be plotted against.
    Against {
        report: String,
        axis: String,
        problem: AgainstProblem,
        /// The axes of the rows that could be plotted against.
        plottable: Vec<String>,
        /// Whether any row comes from a sweep.
        swept: bool,
        span: Span,
    },
    /// A report's `choose.over` names an axis its rows are not swept over, or `seed`.
    ChooseOver {
        report: String,
        axis: String,
        problem: ChooseProblem,
        /// The axes of the rows other than `seed`, which settings can be chosen over.
        axes: Vec<String>,
        span: Span,
    },
    /// A warmup or a schedule's point (a mixture's, a scheduler's `at`) past the end of the
    /// phase it is measured against: never reached.
    PastThePhase {
        /// "the warmup of `cosine`", "a mixture point".
        what: String,
        point: Duration,
        /// The length of the phase.
        phase: Duration,
        span: Span,
    },
    /// A definition named by a string whose text cannot name a node's files (empty, a path).
    BadName {
        name: String,
        problem: &'static str,
        span: Span,
    },
    /// An experiment file with no items at all: empty, or only comments and blank lines.
    EmptyFile {
        span: Span,
    },
    /// The path of the experiment is a directory (reported by the binary, which reads files).
    Directory {
        path: String,
        span: Span,
    },
    /// A hook that is neither a regularizer nor a merger that can run during training.
    NotAHook {
        name: String,
        found: Option<ComponentKind>,
        span: Span,
        suggestion: Option<String>,
        available: Vec<String>,
    },
    /// A key of `resources` that is not `default`, a definition keyword or a definition's name.
    UnknownResourceKey {
        key: String,
        span: Span,
        suggestion: Option<String>,
    },
    /// A field of a `resources` request that it does not have.
    UnknownResourceField {
        field: String,
        span: Span,
        suggestion: Option<String>,
    },
}

impl CheckError {
    pub fn code(&self) -> &'static str {
        match self {
            CheckError::ModuleNotFound { .. } => "E0004",
            CheckError::OnlyInMainFile { .. } => "E0005",
            CheckError::DuplicateLine { .. } => "E0006",
            CheckError::DuplicateDefinition { .. } | CheckError::CopiesCollide { .. } => "E0007",
            CheckError::UndefinedName { .. } => "E0008",
            CheckError::WrongDefinitionKind { .. } => "E0009",
            CheckError::UnknownField { .. } => "E0010",
            CheckError::MissingField { .. } => "E0011",
            CheckError::DuplicateField { .. } => "E0012",
            CheckError::WrongFieldType { .. } => "E0013",
            CheckError::ValueOutOfRange { .. } => "E0014",
            CheckError::BadUnit { .. } => "E0015",
            CheckError::MergeArity { .. } => "E0016",
            CheckError::Inputs { .. } => "E0049",
            CheckError::TextPairing { .. } => "E0050",
            CheckError::Cycle { .. } => "E0017",
            CheckError::UnknownComponent { .. } => "E0018",
            CheckError::ComponentWrongKind { .. } => "E0019",
            CheckError::UnknownParam { .. } => "E0020",
            CheckError::ParamWrongType { .. } => "E0021",
            CheckError::ParamOutOfRange { .. } => "E0022",
            CheckError::MissingParam { .. } => "E0023",
            CheckError::NoLearningRate { .. } => "E0046",
            CheckError::LearningRateScheduledTwice { .. } => "E0047",
            CheckError::ComponentRule { .. } => "E0048",
            CheckError::ArithmeticType { .. } => "E0024",
            CheckError::LetCycle { .. } => "E0025",
            CheckError::DurationUnitMismatch { .. } => "E0026",
            CheckError::DivisionByZero { .. } => "E0027",
            CheckError::NotAValue { .. } => "E0028",
            CheckError::UnusedLet { .. } => "W0001",
            CheckError::SweepValues { .. } => "E0029",
            CheckError::ZipLengths { .. } => "E0030",
            CheckError::FamilyWhereOneIsNeeded { .. } => "E0031",
            CheckError::UnknownTemplate { .. } => "E0032",
            CheckError::TemplateArguments { .. } => "E0033",
            CheckError::RecursiveTemplate { .. } => "E0034",
            CheckError::NotAllowedInside { .. } => "E0035",
            CheckError::Interpolation { .. } => "E0036",
            CheckError::NotAHook { .. } => "E0037",
            CheckError::EmptyFile { .. } | CheckError::Directory { .. } => "E0040",
            CheckError::TooManyDefinitions { .. } => "E0041",
            CheckError::RepeatedAxis { .. } => "E0042",
            CheckError::Against { .. } => "E0043",
            CheckError::PastThePhase { .. } => "E0044",
            CheckError::BadName { .. } => "E0045",
            CheckError::ChooseOver { .. } => "E0051",
            CheckError::UnknownResourceKey { .. } => "E0052",
            CheckError::UnknownResourceField { .. } => "E0053",
            CheckError::UnusedTemplateParam { .. } => "W0002",
        }
    }

    /// The span the caret points at.
    pub fn span(&self) -> Span {
        match self {
            CheckError::ModuleNotFound { span, .. }
            | CheckError::OnlyInMainFile { span, .. }
            | CheckError::DuplicateLine { span, .. }
            | CheckError::DuplicateDefinition { span, .. }
            | CheckError::CopiesCollide { span, .. }
            | CheckError::UndefinedName { span, .. }
            | CheckError::WrongDefinitionKind { span, .. }
            | CheckError::UnknownField { span, .. }
            | CheckError::MissingField { span, .. }
            | CheckError::DuplicateField { span, .. }
            | CheckError::WrongFieldType { span, .. }
            | CheckError::ValueOutOfRange { span, .. }
            | CheckError::BadUnit { span, .. }
            | CheckError::MergeArity { span, .. }
            | CheckError::Inputs { span, .. }
            | CheckError::TextPairing { span, .. }
            | CheckError::Cycle { span, .. }
            | CheckError::UnknownComponent { span, .. }
            | CheckError::ComponentWrongKind { span, .. }
            | CheckError::UnknownParam { span, .. }
            | CheckError::ParamWrongType { span, .. }
            | CheckError::ParamOutOfRange { span, .. }
            | CheckError::MissingParam { span, .. }
            | CheckError::NoLearningRate { span, .. }
            | CheckError::LearningRateScheduledTwice { span, .. }
            | CheckError::ComponentRule { span, .. }
            | CheckError::ArithmeticType { span, .. }
            | CheckError::LetCycle { span, .. }
            | CheckError::DurationUnitMismatch { span, .. }
            | CheckError::DivisionByZero { span }
            | CheckError::NotAValue { span, .. }
            | CheckError::UnusedLet { span, .. }
            | CheckError::SweepValues { span, .. }
            | CheckError::ZipLengths { span, .. }
            | CheckError::FamilyWhereOneIsNeeded { span, .. }
            | CheckError::UnknownTemplate { span, .. }
            | CheckError::TemplateArguments { span, .. }
            | CheckError::RecursiveTemplate { span, .. }
            | CheckError::NotAllowedInside { span, .. }
            | CheckError::Interpolation { span, .. }
            | CheckError::NotAHook { span, .. }
            | CheckError::EmptyFile { span }
            | CheckError::TooManyDefinitions { span, .. }
            | CheckError::RepeatedAxis { span, .. }
            | CheckError::Against { span, .. }
            | CheckError::ChooseOver { span, .. }
            | CheckError::PastThePhase { span, .. }
            | CheckError::BadName { span, .. }
            | CheckError::Directory { span, .. }
            | CheckError::UnknownResourceKey { span, .. }
            | CheckError::UnknownResourceField { span, .. }
            | CheckError::UnusedTemplateParam { span, .. } => *span,
        }
    }

    pub fn to_diagnostic(&self) -> Diagnostic {
        let code = self.code();
        match self {
            CheckError::SweepValues {
                axis,
                seeds,
                found,
                span,
            } => {
                let (expected, help) = if *seeds {
                    (
                        "a count of seeds or a list of seeds",
                        "write `seeds 3` (seeds 0, 1, 2) or `seeds [1, 7, 42]`".to_string(),
                    )
                } else {
                    (
                        "a non-empty list",
                        format!("write the values to sweep as a list: `{axis} in [1e-3, 3e-3]`"),
                    )
                };
                Diagnostic::error(
                    code,
                    format!("the sweep over `{axis}` needs {expected}, found {found}"),
                )
                .with_primary(*span, format!("expected {expected}"))
                .with_help(help)
            }
            CheckError::ZipLengths { first, other, span } => Diagnostic::error(
                code,
                format!(
                    "`sweep zip` pairs its lists element by element, but `{}` has {} values and `{}` has {}",
                    first.0, first.1, other.0, other.1
                ),
            )
            .with_primary(
                *span,
                format!("{} value{}", other.1, if other.1 == 1 { "" } else { "s" }),
            )
            .with_help("give every axis of a zip the same number of values, or drop `zip` to sweep their grid"),
            CheckError::FamilyWhereOneIsNeeded {
                name,
                members,
                span,
            } => {
                let shown: Vec<&str> = members.iter().take(3).map(String::as_str).collect();
                let more = if members.len() > 3 { ", .." } else { "" };
                Diagnostic::error(
                    code,
                    format!(
                        "`{name}` is swept: it stands for {} definitions ({}{more}), and one is needed here",
                        members.len(),
                        ticks(&shown)
                    ),
                )
                .with_primary(*span, "needs a single definition")
                .with_help(format!(
                    "use `{name}` inside the sweep that defines it, name one copy (`{}`), or put it in a list (report rows, merge inputs), where it stands for all of them",
                    members[0]
                ))
            }
            CheckError::UnknownTemplate {
                name,
                span,
                suggestion,
            } => {
                let help = match suggestion {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None => format!(
                        "define it with `template {name}(..) {{ .. }}`, or import the module that does"
                    ),
                };
                Diagnostic::error(code, format!("cannot find the template `{name}`"))
                    .with_primary(*span, "no template of this name")
                    .with_help(help)
            }
            CheckError::TemplateArguments {
                template,
                problem,
                span,
                params,
            } => {
                let names: Vec<&str> = params.iter().map(String::as_str).collect();
                Diagnostic::error(
                    code,
                    format!("the arguments do not fit the template `{template}`: {problem}"),
                )
                .with_primary(*span, problem.clone())
                .with_help(format!(
                    "`{template}` takes {}; pass them in order or by name (`name: value`)",
                    if names.is_empty() {
                        "no arguments".to_string()
                    } else {
                        ticks(&names)
                    }
                ))
            }
            CheckError::RecursiveTemplate { chain, span } => Diagnostic::error(
                code,
                format!("the template `{}` uses itself: {}", chain[chain.len() - 1], chain.join(" → ")),
            )
            .with_primary(*span, "used again here")
            .with_help("a template cannot instantiate itself, directly or through another"),
            CheckError::NotAllowedInside { item, span } => Diagnostic::error(
                code,
                format!("`{item}` cannot be written inside a sweep or a template"),
            )
            .with_primary(*span, "not allowed here")
            .with_help(format!("move the `{item}` line to the top level of the file")),
            CheckError::Interpolation { name, span } => Diagnostic::error(
                code,
                format!("cannot fill in `{{{name}}}`: it is not a sweep axis, a template parameter, a `let` holding a literal, or a definition"),
            )
            .with_primary(*span, format!("`{{{name}}}` has no value here"))
            .with_help("name a value in scope, or write `{{` and `}}` for literal braces"),
            CheckError::NotAHook {
                name,
                found,
                span,
                suggestion,
                available,
            } => {
                let message = match found {
                    Some(kind) => format!("`{name}` is {} and cannot run inside training", article(*kind)),
                    None => format!("unknown hook `{name}`"),
                };
                let help = match suggestion {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None => format!(
                        "hooks are regularizers and mergers that run during training: {}",
                        ticks(&available.iter().map(String::as_str).collect::<Vec<_>>())
                    ),
                };
                Diagnostic::error(code, message)
                    .with_primary(*span, "not a hook")
                    .with_help(help)
            }
            CheckError::UnknownResourceKey {
                key,
                span,
                suggestion,
            } => {
                let keywords: Vec<&str> = crate::checker::RESOURCE_KIND_KEYS
                    .iter()
                    .map(|kind| kind.keyword())
                    .collect();
                let help = match suggestion {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None => format!(
                        "a key is `default` (every node), a definition keyword ({}) or the name of a definition in the file",
                        ticks(&keywords)
                    ),
                };
                Diagnostic::error(code, format!("unknown `resources` key `{key}`"))
                    .with_primary(*span, "not `default`, a definition keyword or a definition's name")
                    .with_help(help)
            }
            CheckError::UnknownResourceField {
                field,
                span,
                suggestion,
            } => {
                let fields = ticks(crate::checker::RESOURCE_FIELDS);
                let diagnostic = Diagnostic::error(
                    code,
                    format!("unknown field `{field}` in a `resources` request"),
                )
                .with_primary(*span, "unknown field");
                match suggestion {
                    Some(suggestion) => diagnostic
                        .with_help(format!("did you mean `{suggestion}`?"))
                        .with_note(format!("note: the fields of a request are {fields}")),
                    None => diagnostic.with_help(format!("the fields of a request are {fields}")),
                }
            }
            CheckError::TooManyDefinitions { count, limit, span } => {
                let (message, label) = match count {
                    Some(count) => (
                        format!("this sweep has {} points, more than the {} exp expands", thousands(*count), thousands(*limit)),
                        "the grid of these axes".to_string(),
                    ),
                    None => (
                        format!("expanding this makes more than {} definitions", thousands(*limit)),
                        "its sweeps and templates multiply to more than that".to_string(),
                    ),
                };
                Diagnostic::error(code, message)
                    .with_primary(*span, label)
                    .with_help("sweep fewer values (`sweep zip` pairs lists instead of crossing them), or split the study into several files")
            }
            CheckError::RepeatedAxis {
                axis,
                seeds,
                span,
                first,
            } => {
                let help = if *seeds || axis == "seed" {
                    "sweep the seeds once: `seeds 6` in the outermost sweep gives six replicates of everything inside it".to_string()
                } else {
                    format!("sweep `{axis}` once, with all its values, or rename the second (`{axis}_2 in [..]`)")
                };
                Diagnostic::error(code, format!("the axis `{axis}` is swept twice"))
                    .with_primary(*span, "swept again here")
                    .with_secondary(*first, format!("`{axis}` is already swept here"))
                    .with_help(help)
            }
            CheckError::Against {
                report,
                axis,
                problem,
                plottable,
                swept,
                span,
            } => {
                let (message, label) = match problem {
                    AgainstProblem::NotAnAxis { .. } => (
                        format!("the rows of `{report}` are not swept over `{axis}`"),
                        "no row has this axis".to_string(),
                    ),
                    AgainstProblem::NotNumbers { value } => (
                        format!("the axis `{axis}` has values that are not numbers, such as `{value}`"),
                        "a chart against it has no x to put them at".to_string(),
                    ),
                    AgainstProblem::Averaged => (
                        format!("the table of `{report}` averages its rows over `seed`"),
                        "replicates become one row, so there is no `seed` to plot against".to_string(),
                    ),
                };
                let help = match (problem, plottable.as_slice()) {
                    (AgainstProblem::NotAnAxis { suggestion: Some(suggestion) }, _) => {
                        format!("did you mean \"{suggestion}\"?")
                    }
                    (_, []) if !swept => "remove `against`: it plots rows from a sweep, and these come from none".to_string(),
                    (_, []) => "remove `against`: no axis of these rows has numbers for values".to_string(),
                    (_, axes) => format!(
                        "plot against an axis of numbers: {}",
                        ticks(&axes.iter().map(|axis| format!("\"{axis}\"")).collect::<Vec<_>>())
                    ),
                };
                Diagnostic::error(code, message)
                    .with_primary(*span, label)
                    .with_help(help)
            }
            CheckError::ChooseOver {
                report,
                axis,
                problem,
                axes,
                span,
            } => {
                let (message, label) = match problem {
                    ChooseProblem::NotAnAxis { .. } => (
                        format!("the rows of `{report}` are not swept over `{axis}`"),
                        "no row has this axis",
                    ),
                    ChooseProblem::Seed => (
                        format!("`{report}` averages its rows over `seed`, so there is no seed to choose"),
                        "replicates are averaged, never chosen among",
                    ),
                };
                let help = match (problem, axes.as_slice()) {
                    (ChooseProblem::NotAnAxis { suggestion: Some(suggestion) }, _) => {
                        format!("did you mean \"{suggestion}\"?")
                    }
                    (_, []) => "remove `choose`: its rows come from no sweep of settings to choose among".to_string(),
                    (_, axes) => format!(
                        "choose over axes of the rows: {}",
                        ticks(&axes.iter().map(|axis| format!("\"{axis}\"")).collect::<Vec<_>>())
                    ),
                };
                Diagnostic::error(code, message)
                    .with_primary(*span, label)
                    .with_help(help)
            }
            CheckError::PastThePhase {
                what,
                point,
                phase,
                span,
            } => {
                let is_warmup = what.starts_with("the warmup");
                let message = if is_warmup {
                    format!("{what} ({}) is longer than the phase ({})", duration_text(point), duration_text(phase))
                } else {
                    format!("{what} ({}) is past the end of the phase ({})", duration_text(point), duration_text(phase))
                };
                let help = if is_warmup {
                    "make the warmup at most the phase, or write it as a share of the phase, such as `warmup: 10%`".to_string()
                } else {
                    "points are measured from the start of the phase, which ends at `100%`: move this one within it".to_string()
                };
                Diagnostic::error(code, message)
                    .with_primary(*span, "never reached")
                    .with_help(help)
            }
            CheckError::BadName {
                name,
                problem,
                span,
            } => Diagnostic::error(
                code,
                format!("`{name:?}` cannot name a definition: {problem}"),
            )
            .with_primary(*span, "the name of its node and its files")
            .with_help("a name is one plain file name: letters, digits, `_`, `.` and `-` are safe, and so must be what each `{..}` fills in"),
            CheckError::EmptyFile { span } => {
                Diagnostic::error(code, "the experiment file defines nothing")
                    .with_primary(*span, "expected a definition")
                    .with_help(
                        "an experiment needs at least one line, such as \
                         `model net = mlp { hidden: [64] }`",
                    )
            }
            CheckError::Directory { path, span } => Diagnostic::error(
                code,
                format!("`{path}` is a directory, not an experiment file"),
            )
            .with_primary(*span, "a directory")
            .with_help("give the path of a `.exp` file"),
            CheckError::ArithmeticType { op, lhs, rhs, span } => {
                let message = match rhs {
                    Some(rhs) => format!("cannot apply `{op}` to {lhs} and {rhs}"),
                    None => format!("cannot negate {lhs}"),
                };
                Diagnostic::error(code, message)
                    .with_primary(*span, "not a number or a duration")
                    .with_help(
                        "arithmetic works on numbers and durations: a duration can be added to \
                         one of the same unit and multiplied or divided by a number",
                    )
            }
            CheckError::LetCycle { names, uses, span } => cycle_diagnostic(
                Diagnostic::error(code, format!("lets depend on each other in a cycle: {}", chain(names)))
                    .with_primary(*span, "this value depends on itself"),
                names,
                uses,
            )
            .with_help("give one of these lets a value that does not refer back"),
            CheckError::DurationUnitMismatch { op, lhs, rhs, span } => {
                Diagnostic::error(code, format!("cannot apply `{op}` to {lhs} and {rhs}"))
                    .with_primary(*span, "the units differ")
                    .with_help(
                        "add or subtract durations of the same unit: steps, epochs or percentages",
                    )
            }
            CheckError::DivisionByZero { span } => Diagnostic::error(code, "division by zero")
                .with_primary(*span, "this divides by zero")
                .with_help("divide by a number other than 0"),
            CheckError::NotAValue {
                found,
                span,
                definition,
            } => {
                let diagnostic =
                    Diagnostic::error(code, format!("expected a value, found {found}"))
                        .with_primary(*span, "not a value");
                let diagnostic = match definition {
                    Some(definition) => diagnostic.with_secondary(*definition, "defined here"),
                    None => diagnostic,
                };
                diagnostic.with_help(
                    "a `let` and arithmetic hold values only: numbers, strings, booleans, \
                     durations and lists of them",
                )
            }
            CheckError::UnusedTemplateParam {
                template,
                param,
                span,
            } => Diagnostic::warning(
                code,
                format!("parameter `{param}` of the template `{template}` is never used"),
            )
            .with_primary(*span, "never used in the template's body")
            .with_help("remove the parameter (and its argument at each `use`), or use it"),
            CheckError::UnusedLet { name, span } => {
                Diagnostic::warning(code, format!("`{name}` is defined but never used"))
                    .with_primary(*span, "never used")
                    .with_help("remove it or use it")
            }
            CheckError::ModuleNotFound { path, span } => {
                Diagnostic::error(code, format!("cannot find module `{path}`"))
                    .with_primary(*span, "no such module")
                    .with_help("check the spelling; standard modules are imported as `std.<name>`")
            }
            CheckError::OnlyInMainFile { item, span } => Diagnostic::error(
                code,
                format!("`{item}` is only allowed in the experiment file, not in a module"),
            )
            .with_primary(*span, "inside an imported module")
            .with_help(format!("move this `{item}` line to the experiment file")),
            CheckError::DuplicateLine { item, span, first } => {
                let what = if *item == "seed" {
                    "the base seed is set twice".to_string()
                } else if *item == "resources" {
                    "`resources` is written twice".to_string()
                } else {
                    format!("the `{item}` is written twice")
                };
                Diagnostic::error(code, what)
                    .with_primary(*span, format!("second `{item}`"))
                    .with_secondary(*first, "first set here")
                    .with_help(format!("keep one `{item}` line"))
            }
            CheckError::DuplicateDefinition { name, span, first } => {
                Diagnostic::error(code, format!("`{name}` is defined twice"))
                    .with_primary(*span, "defined again here")
                    .with_secondary(*first, format!("`{name}` first defined here"))
                    .with_help("rename one of the definitions")
            }
            CheckError::CopiesCollide {
                name,
                template,
                differing,
                span,
            } => {
                let axes: Vec<&str> = differing.iter().map(|(axis, _, _)| axis.as_str()).collect();
                let points = |pick: fn(&(String, String, String)) -> &String| {
                    differing
                        .iter()
                        .map(|entry| format!("{}={}", entry.0, pick(entry)))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let fixed: String = axes.iter().map(|axis| format!("_{{{axis}}}")).collect();
                let placeholders: Vec<String> = axes.iter().map(|axis| format!("{{{axis}}}")).collect();
                Diagnostic::error(
                    code,
                    format!(
                        "the copies of `\"{template}\"` at `{}` and at `{}` are both named `{name}`",
                        points(|entry| &entry.1),
                        points(|entry| &entry.2),
                    ),
                )
                .with_primary(
                    *span,
                    format!(
                        "this name leaves out the {} {}, so its copies collide",
                        if axes.len() == 1 { "axis" } else { "axes" },
                        ticks(&axes)
                    ),
                )
                .with_help(format!(
                    "add {} to the name: `\"{template}{fixed}\"`",
                    ticks(&placeholders)
                ))
            }
            CheckError::UndefinedName {
                name,
                expected,
                span,
                suggestion,
            } => {
                let help = match suggestion {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None => format!(
                        "define {} named `{name}`, or import the module that does",
                        expected.words()
                    ),
                };
                Diagnostic::error(code, format!("cannot find `{name}`"))
                    .with_primary(*span, "not defined")
                    .with_help(help)
            }
            CheckError::WrongDefinitionKind {
                name,
                expected,
                found,
                span,
                definition,
            } => Diagnostic::error(
                code,
                format!(
                    "expected {}, found {} `{name}`",
                    expected.words(),
                    found.keyword()
                ),
            )
            .with_primary(*span, format!("this is a {}", found.keyword()))
            .with_secondary(*definition, format!("`{name}` is defined here"))
            .with_help(format!("refer to {} here", expected.words())),
            CheckError::UnknownField {
                block,
                field,
                span,
                suggestion,
                known,
                form,
            } => {
                let help = match (suggestion, form) {
                    (Some(suggestion), _) => format!("did you mean `{suggestion}`?"),
                    (None, Some(form)) => format!(
                        "{form}, the fields of `{}` are {}",
                        block.keyword(),
                        ticks(known)
                    ),
                    (None, None) => {
                        format!("the fields of `{}` are {}", block.keyword(), ticks(known))
                    }
                };
                Diagnostic::error(
                    code,
                    format!("unknown field `{field}` in `{}`", block.keyword()),
                )
                .with_primary(*span, "unknown field")
                .with_help(help)
            }
            CheckError::MissingField {
                block,
                name,
                field,
                example,
                span,
            } => Diagnostic::error(
                code,
                format!(
                    "`{}` `{name}` is missing the field `{field}`",
                    block.keyword()
                ),
            )
            .with_primary(*span, format!("`{field}` is required"))
            .with_help(format!("add `{example}`")),
            CheckError::DuplicateField { field, span, first } => {
                Diagnostic::error(code, format!("`{field}` is set twice"))
                    .with_primary(*span, "set again here")
                    .with_secondary(*first, "first set here")
                    .with_help("keep one of them")
            }
            CheckError::WrongFieldType {
                field,
                expected,
                found,
                span,
                example,
            } => {
                let diagnostic = Diagnostic::error(
                    code,
                    format!("wrong value for `{field}`: expected {expected}, found {found}"),
                )
                .with_primary(*span, format!("expected {expected}"));
                match example {
                    Some(example) => diagnostic.with_help(format!("write it as `{example}`")),
                    None => diagnostic,
                }
            }
            CheckError::ValueOutOfRange {
                field,
                value,
                expected,
                span,
            } => Diagnostic::error(code, format!("`{field}` is out of range"))
                .with_primary(*span, format!("{value} is out of range"))
                .with_help(format!("use {expected}")),
            CheckError::BadUnit {
                what,
                field,
                expected,
                found,
                span,
            } => Diagnostic::error(code, format!("bad unit for {what} `{field}`"))
                .with_primary(*span, format!("found {found}"))
                .with_help(format!("`{field}` takes {expected}")),
            CheckError::MergeArity { name, count, span } => Diagnostic::error(
                code,
                format!(
                    "merge `{name}` has {}, but a merge needs at least 2",
                    exp_diag::count(*count, "input")
                ),
            )
            .with_primary(*span, "too few inputs")
            .with_help("list two or more models to merge, such as `average(a, b)`"),
            CheckError::Inputs {
                message,
                label,
                help,
                span,
            } => Diagnostic::error(code, message.clone())
                .with_primary(*span, label.clone())
                .with_help(help.clone()),
            CheckError::TextPairing {
                message,
                label,
                help,
                span,
                other,
            } => {
                let diagnostic = Diagnostic::error(code, message.clone())
                    .with_primary(*span, label.clone())
                    .with_help(help.clone());
                match other {
                    Some((other, words)) => diagnostic.with_secondary(*other, words.clone()),
                    None => diagnostic,
                }
            }
            CheckError::Cycle { names, uses, span } => cycle_diagnostic(
                Diagnostic::error(
                    code,
                    format!("definitions depend on each other in a cycle: {}", chain(names)),
                )
                .with_primary(*span, "this definition depends on itself"),
                names,
                uses,
            )
            .with_help("start the chain from a `model` definition"),
            CheckError::UnknownComponent {
                kind,
                name,
                span,
                suggestion,
                available,
                definition: Some((found, definition)),
            } => Diagnostic::error(code, format!("unknown {kind} `{name}`"))
                .with_primary(*span, format!("a {kind} component is named here"))
                .with_secondary(*definition, format!("`{name}` is a `{}` definition", found.keyword()))
                .with_help(format!(
                    "a definition is not a component: refer to `{name}` by name where it is read \
                     (such as `train t {{ model: {name}, .. }}`), or name a {kind} component here{}",
                    match suggestion {
                        Some(suggestion) => format!(" (did you mean `{suggestion}`?)"),
                        None if available.is_empty() => String::new(),
                        None => format!(" ({})", ticks(available)),
                    }
                )),
            CheckError::UnknownComponent {
                kind,
                name,
                span,
                suggestion,
                available,
                definition: None,
            } => {
                let help = match suggestion {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None if available.is_empty() => {
                        format!("no loaded plugin provides a {kind}")
                    }
                    None => format!("the known {kind}s are {}", ticks(available)),
                };
                let diagnostic = Diagnostic::error(code, format!("unknown {kind} `{name}`"))
                    .with_primary(*span, format!("no {kind} has this name"));
                // Not a typo of a loaded component: perhaps one from a plugin not loaded yet.
                let diagnostic = match suggestion {
                    Some(_) => diagnostic,
                    None => diagnostic.with_note(format!(
                        "note: if `{name}` comes from another plugin, load it with a \
                         `plugin \"path/to/library\"` line in this file, or put its directory \
                         in `EXP_PLUGIN_PATH`; `exp plugins` lists what is loaded"
                    )),
                };
                diagnostic.with_help(help)
            }
            CheckError::ComponentWrongKind {
                name,
                expected,
                found,
                span,
                available,
            } => {
                let help = if available.is_empty() {
                    format!("no loaded plugin provides a {expected}")
                } else {
                    format!("the known {expected}s are {}", ticks(available))
                };
                Diagnostic::error(
                    code,
                    format!(
                        "`{name}` is {}, not {}",
                        article(*found),
                        article(*expected)
                    ),
                )
                .with_primary(*span, format!("expected {}", article(*expected)))
                .with_help(help)
            }
            CheckError::UnknownParam {
                component,
                param,
                span,
                suggestion,
                known,
            } => {
                let help = match suggestion {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None if known.is_empty() => format!("`{component}` takes no parameters"),
                    None => format!("the parameters of `{component}` are {}", ticks(known)),
                };
                Diagnostic::error(
                    code,
                    format!("unknown parameter `{param}` for `{component}`"),
                )
                .with_primary(*span, "unknown parameter")
                .with_help(help)
            }
            CheckError::ParamWrongType {
                component,
                param,
                expected,
                found,
                span,
                suggestion,
            } => {
                let help = match suggestion {
                    Some(suggestion) => format!("did you mean {suggestion}?"),
                    None => format!("`{param}` of `{component}` takes {expected}"),
                };
                Diagnostic::error(
                    code,
                    format!("wrong type for parameter `{param}` of `{component}`"),
                )
                .with_primary(*span, format!("expected {expected}, found {found}"))
                .with_help(help)
            }
            CheckError::ParamOutOfRange {
                component,
                param,
                problem,
                range,
                span,
            } => Diagnostic::error(
                code,
                format!("parameter `{param}` of `{component}` is out of range"),
            )
            .with_primary(*span, problem.clone())
            .with_help(format!("`{param}` of `{component}` takes {range}")),
            CheckError::NoLearningRate { optimizer, span } => Diagnostic::error(
                code,
                format!("optimizer `{optimizer}` has no learning rate for `schedule:` to schedule"),
            )
            .with_primary(*span, "a learning-rate schedule")
            .with_help(format!(
                "remove `schedule:`, or write the schedule as the value of the `{optimizer}` parameter it should drive"
            )),
            CheckError::LearningRateScheduledTwice {
                optimizer,
                param,
                span,
                first,
            } => Diagnostic::error(
                code,
                format!("the learning rate `{param}` of `{optimizer}` has two schedules"),
            )
            .with_primary(*span, "`schedule:` schedules the learning rate")
            .with_secondary(*first, format!("and `{param}` is already a schedule here"))
            .with_help(format!(
                "keep one: remove `schedule:`, or write `{param}` as a number"
            )),
            CheckError::ComponentRule {
                component,
                param,
                message,
                span,
            } => {
                let help = match param {
                    Some(param) => format!("change `{param}` so that `{component}` accepts it"),
                    None => format!("change the parameters of `{component}` so that it accepts them"),
                };
                Diagnostic::error(code, format!("`{component}` does not accept these parameters"))
                    .with_primary(*span, message.clone())
                    .with_help(help)
            }
            CheckError::MissingParam {
                component,
                param,
                expected,
                span,
            } => Diagnostic::error(
                code,
                format!("`{component}` is missing the required parameter `{param}`"),
            )
            .with_primary(*span, format!("`{param}` is required"))
            .with_help(format!(
                "add `{param}: ...` with {expected}, as in `{component} {{ {param}: ... }}`"
            )),
        }
    }
}

/// A duration as it is written: `150%`, `200 steps`, `1 epoch`.
fn duration_text(duration: &Duration) -> String {
    let amount = duration.amount;
    match duration.unit {
        // Rounded: `110%` is stored as 1.1, which times 100 is not quite 110.
        DurationUnit::Fraction => format!("{}%", (amount * 100.0 * 1e9).round() / 1e9),
        unit => {
            let word = match unit {
                DurationUnit::Steps => "step",
                DurationUnit::Epochs => "epoch",
                _ => "token",
            };
            format!("{amount} {word}{}", if amount == 1.0 { "" } else { "s" })
        }
    }
}

/// `100,000`: a count people read at a glance.
fn thousands(count: usize) -> String {
    let digits = count.to_string();
    let mut out = String::new();
    for (idx, digit) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `` `a` -> `b` -> `a` ``: the members of a cycle, the first repeated at the end.
fn chain(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    quoted.join(" -> ")
}

/// Adds to a cycle's diagnostic (definitions or lets alike) a label at each place where one
/// member refers to the next: `uses[i]` is where `names[i]` uses `names[i + 1]`.
fn cycle_diagnostic(mut diagnostic: Diagnostic, names: &[String], uses: &[Span]) -> Diagnostic {
    for (idx, use_span) in uses.iter().enumerate() {
        if let (Some(user), Some(used)) = (names.get(idx), names.get(idx + 1)) {
            diagnostic =
                diagnostic.with_secondary(*use_span, format!("`{user}` uses `{used}` here"));
        }
    }
    diagnostic
}

fn ticks<S: AsRef<str>>(names: &[S]) -> String {
    let quoted: Vec<String> = names
        .iter()
        .map(|name| format!("`{}`", name.as_ref()))
        .collect();
    quoted.join(", ")
}

/// `an optimizer`, `a scheduler`.
fn article(kind: ComponentKind) -> String {
    let word = kind.as_str();
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {word}")
    } else {
        format!("a {word}")
    }
}

#[cfg(test)]
mod tests {
    use exp_diag::{FileId, Span};

    use super::CheckError;

    /// Definition cycles and let cycles are worded by one helper: the same chain gets the same
    /// labels, and a use past the end of the chain is left out rather than indexing past it.
    #[test]
    fn both_cycles_label_their_uses_alike() {
        let span = |start| Span::new(FileId(0), start, start + 1);
        let names: Vec<String> = ["a", "b", "a"].iter().map(|n| n.to_string()).collect();
        let uses = vec![span(4), span(8), span(12)];
        let definitions = CheckError::Cycle {
            names: names.clone(),
            uses: uses.clone(),
            span: span(0),
        }
        .to_diagnostic();
        let lets = CheckError::LetCycle {
            names,
            uses,
            span: span(0),
        }
        .to_diagnostic();
        let secondary = |labels: &[exp_diag::Label]| -> Vec<(Span, String)> {
            labels
                .iter()
                .filter(|label| !label.primary)
                .map(|label| (label.span, label.message.clone()))
                .collect()
        };
        assert_eq!(secondary(&definitions.labels), secondary(&lets.labels));
        assert_eq!(
            secondary(&definitions.labels),
            [
                (span(4), "`a` uses `b` here".to_string()),
                (span(8), "`b` uses `a` here".to_string())
            ]
        );
    }
}
