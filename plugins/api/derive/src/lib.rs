//! Derives for the exp plugin SDK (re-exported as `exp_plugin_api::sdk::{Config, Choice}`).
//!
//! `#[derive(Config)]` on a struct with named fields makes each field a parameter of the
//! component whose `Config` it is: the field's name is the parameter's name (`r#final` is
//! `final`), its doc comment the parameter's doc, its type the parameter's type, and a
//! `#[param(..)]` attribute adds the rest:
//!
//! ```text
//! #[derive(Clone, Config)]
//! pub struct AdamWConfig {
//!     /// learning rate
//!     #[param(default = 1e-3, min = 0.0, schedule, learning_rate)]
//!     pub lr: f64,
//!     /// decay of the first moment
//!     #[param(default = 0.9, min = 0.0, below = 1.0)]
//!     pub beta1: f64,
//! }
//! ```
//!
//! Attribute keys: `default = EXPR` (an expression of the field's type, or a string literal
//! for a `String` or a `Choice` enum; without it the parameter is required); `min = X` and
//! `max = X` (inclusive bounds), `above = X` and `below = X` (exclusive ones); `choices =
//! ["a", "b"]` (a `String` that must be one of these words); `schedule` (the value may follow
//! a schedule through a training phase; the field must be an `f64`); `learning_rate` (an
//! optimizer's learning rate: the phase's `schedule:` schedules it); `sequence_length` (a
//! model's window length, which the runtime packs token streams into); `path` (a `String` or
//! `Vec<String>` naming files, written relative to the `.exp` file, globs allowed: the
//! component receives absolute paths); `name = "x"` (the
//! parameter's name when it differs from the field's); `flatten` (the field is itself a
//! `Config` whose parameters are this one's, such as a shared `warmup`).
//!
//! `#[derive(Choice)]` on an enum of unit variants makes it a parameter type written as one of
//! the variants' names in snake_case (`#[choice(name = "x")]` on a variant overrides).
//!
//! The generated code only calls the SDK (`exp_plugin_api::sdk::config`), so what a parameter
//! means is defined there, once; this crate only reads attributes.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{parse_macro_input, Data, DeriveInput, Expr, Fields, Ident, LitStr};

#[proc_macro_derive(Config, attributes(param))]
pub fn derive_config(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    config(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

#[proc_macro_derive(Choice, attributes(choice))]
pub fn derive_choice(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    choice(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// What one field's `#[param(..)]` attributes and doc comment say.
#[derive(Default)]
struct FieldSpec {
    name: Option<String>,
    doc: String,
    default: Option<Expr>,
    min: Option<(Expr, bool)>,
    max: Option<(Expr, bool)>,
    choices: Option<Vec<LitStr>>,
    schedule: bool,
    learning_rate: bool,
    sequence_length: bool,
    path: bool,
    flatten: bool,
}

fn field_spec(field: &syn::Field) -> syn::Result<FieldSpec> {
    let mut spec = FieldSpec::default();
    let mut doc_lines = Vec::new();
    for attr in &field.attrs {
        if attr.path().is_ident("doc") {
            if let syn::Meta::NameValue(meta) = &attr.meta {
                if let Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }) = &meta.value
                {
                    doc_lines.push(text.value().trim().to_string());
                }
            }
            continue;
        }
        if !attr.path().is_ident("param") {
            continue;
        }
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(Ident::to_string)
                .unwrap_or_default();
            match key.as_str() {
                "default" => spec.default = Some(meta.value()?.parse()?),
                "min" => spec.min = Some((meta.value()?.parse()?, false)),
                "above" => spec.min = Some((meta.value()?.parse()?, true)),
                "max" => spec.max = Some((meta.value()?.parse()?, false)),
                "below" => spec.max = Some((meta.value()?.parse()?, true)),
                "name" => spec.name = Some(meta.value()?.parse::<LitStr>()?.value()),
                "choices" => {
                    let list: syn::ExprArray = meta.value()?.parse()?;
                    let mut words = Vec::new();
                    for item in list.elems {
                        match item {
                            Expr::Lit(syn::ExprLit {
                                lit: syn::Lit::Str(word),
                                ..
                            }) => words.push(word),
                            other => {
                                return Err(syn::Error::new(
                                    other.span(),
                                    "`choices` takes string literals: choices = [\"a\", \"b\"]",
                                ))
                            }
                        }
                    }
                    spec.choices = Some(words);
                }
                "schedule" => spec.schedule = true,
                "learning_rate" => spec.learning_rate = true,
                "sequence_length" => spec.sequence_length = true,
                "path" => spec.path = true,
                "flatten" => spec.flatten = true,
                _ => {
                    return Err(meta.error(
                        "unknown `param` key: expected default, min, max, above, below, \
                         choices, schedule, learning_rate, sequence_length, path, name or flatten",
                    ))
                }
            }
            Ok(())
        })?;
    }
    // Doc comments become one line of prose: blank lines end a paragraph, which the
    // parameter doc does not need.
    spec.doc = doc_lines
        .into_iter()
        .take_while(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if spec.learning_rate && !spec.schedule {
        spec.schedule = true;
    }
    if spec.flatten
        && (spec.default.is_some()
            || spec.min.is_some()
            || spec.max.is_some()
            || spec.schedule
            || spec.choices.is_some())
    {
        return Err(syn::Error::new(
            field.span(),
            "a `flatten` field takes its parameters from its own `Config`: no other `param` keys",
        ));
    }
    Ok(spec)
}

/// The parameter name of a field: its `name` attribute, else the field name without `r#`.
fn param_name(field: &syn::Field, spec: &FieldSpec) -> String {
    spec.name.clone().unwrap_or_else(|| {
        let ident = field
            .ident
            .as_ref()
            .map(Ident::to_string)
            .unwrap_or_default();
        ident.trim_start_matches("r#").to_string()
    })
}

fn bound(bound: &Option<(Expr, bool)>) -> Tokens {
    match bound {
        Some((value, exclusive)) => {
            quote!(::core::option::Option::Some(((#value) as f64, #exclusive)))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn config(input: &DeriveInput) -> syn::Result<Tokens> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            "`Config` is derived for a struct whose fields are the parameters",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new(
            input.span(),
            "`Config` needs named fields: each field is a parameter",
        ));
    };
    let sdk = quote!(::exp_plugin_api::sdk::config);
    let mut schemas = Vec::new();
    let mut reads = Vec::new();
    let mut sets = Vec::new();
    let mut flattened_sets = Vec::new();
    for field in &fields.named {
        let ident = field.ident.as_ref().expect("named fields have names");
        let ty = &field.ty;
        let spec = field_spec(field)?;
        if spec.flatten {
            schemas.push(quote! {
                params.extend(<#ty as #sdk::Config>::params());
            });
            reads.push(quote! {
                #ident: <#ty as #sdk::Config>::from_params(params)?,
            });
            flattened_sets.push(quote! {
                if <#ty as #sdk::Config>::params().iter().any(|param| param.name == name) {
                    return <#ty as #sdk::Config>::set_scheduled(&mut self.#ident, name, value);
                }
            });
            continue;
        }
        let name = param_name(field, &spec);
        let doc = &spec.doc;
        let param_type = match &spec.choices {
            Some(words) => quote! {
                #sdk::ParamType::Choice(::std::vec![#(::std::string::String::from(#words)),*])
            },
            None => quote!(<#ty as #sdk::ParamKind>::param_type()),
        };
        let default = match &spec.default {
            Some(expr) => quote! {
                ::core::option::Option::Some({
                    let value: #ty = #sdk::DefaultValue::from_default(#expr);
                    #sdk::ToValue::to_value(&value)
                })
            },
            None => quote!(::core::option::Option::None),
        };
        let (min, max) = (bound(&spec.min), bound(&spec.max));
        let (schedule, learning_rate, sequence_length, path) = (
            spec.schedule,
            spec.learning_rate,
            spec.sequence_length,
            spec.path,
        );
        schemas.push(quote! {
            params.push(#sdk::param_schema(#sdk::ParamParts {
                name: #name,
                doc: #doc,
                ty: #param_type,
                default: #default,
                min: #min.or(<#ty as #sdk::ParamKind>::implied_min()),
                max: #max,
                schedule: #schedule,
                learning_rate: #learning_rate,
                sequence_length: #sequence_length,
                path: #path,
            }));
        });
        let read = match &spec.choices {
            Some(words) => quote! {
                #sdk::read_choice(params, #name, &[#(#words),*])?
            },
            None => quote!(params.get::<#ty>(#name)?),
        };
        reads.push(quote!(#ident: #read,));
        if spec.schedule {
            sets.push(quote! {
                #name => {
                    #sdk::check_scheduled(#name, value, #min, #max)?;
                    self.#ident = value;
                    ::core::result::Result::Ok(())
                }
            });
        }
    }
    let type_name = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics #sdk::Config for #type_name #type_generics #where_clause {
            fn params() -> ::std::vec::Vec<#sdk::ParamSchema> {
                let mut params = ::std::vec::Vec::new();
                #(#schemas)*
                params
            }

            fn from_params(params: &#sdk::Params) -> #sdk::Result<Self> {
                ::core::result::Result::Ok(Self { #(#reads)* })
            }

            fn set_scheduled(&mut self, name: &str, value: f64) -> #sdk::Result<()> {
                #(#flattened_sets)*
                match name {
                    #(#sets)*
                    _ => ::core::result::Result::Err(#sdk::not_scheduled(name)),
                }
            }
        }
    })
}

/// `ReluSix` → `relu_six`.
fn snake_case(name: &str) -> String {
    let mut word = String::new();
    for (index, character) in name.chars().enumerate() {
        if character.is_uppercase() {
            if index > 0 {
                word.push('_');
            }
            word.extend(character.to_lowercase());
        } else {
            word.push(character);
        }
    }
    word
}

fn choice(input: &DeriveInput) -> syn::Result<Tokens> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            "`Choice` is derived for an enum whose variants are the words",
        ));
    };
    let mut variants = Vec::new();
    let mut words = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new(
                variant.span(),
                "a `Choice` variant is a plain word: it takes no fields",
            ));
        }
        let mut word = snake_case(&variant.ident.to_string());
        for attr in &variant.attrs {
            if attr.path().is_ident("choice") {
                attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("name") {
                        word = meta.value()?.parse::<LitStr>()?.value();
                        Ok(())
                    } else {
                        Err(meta.error("unknown `choice` key: expected `name`"))
                    }
                })?;
            }
        }
        variants.push(variant.ident.clone());
        words.push(LitStr::new(&word, Span::call_site()));
    }
    let sdk = quote!(::exp_plugin_api::sdk::config);
    let type_name = &input.ident;
    let type_text = type_name.to_token_stream().to_string();
    Ok(quote! {
        impl #type_name {
            /// The words this choice is written as, in declaration order.
            pub const WORDS: &'static [&'static str] = &[#(#words),*];

            /// The word this value is written as.
            pub fn word(&self) -> &'static str {
                match self {
                    #(Self::#variants => #words,)*
                }
            }

            /// The value written as `word`, if it is one of `WORDS`.
            pub fn from_word(word: &str) -> ::core::option::Option<Self> {
                match word {
                    #(#words => ::core::option::Option::Some(Self::#variants),)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        impl #sdk::ParamKind for #type_name {
            fn param_type() -> #sdk::ParamType {
                #sdk::ParamType::Choice(
                    Self::WORDS.iter().map(|word| ::std::string::String::from(*word)).collect(),
                )
            }
        }

        impl #sdk::FromParam for #type_name {
            fn from_param(value: &#sdk::Value) -> ::core::option::Option<Self> {
                Self::from_word(value.as_str()?)
            }
        }

        impl #sdk::ToValue for #type_name {
            fn to_value(&self) -> #sdk::Value {
                #sdk::Value::Str(::std::string::String::from(self.word()))
            }
        }

        impl #sdk::DefaultValue<&'static str> for #type_name {
            fn from_default(word: &'static str) -> Self {
                match Self::from_word(word) {
                    ::core::option::Option::Some(value) => value,
                    ::core::option::Option::None => panic!(
                        "the default `{}` is not one of the words of `{}`: {:?}",
                        word, #type_text, Self::WORDS
                    ),
                }
            }
        }
    })
}
