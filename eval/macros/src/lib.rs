//! `#[builtins]`: defines tvix-eval builtins from plain `async fn`s.
//!
//! A builtin is written once, as a function in a module marked
//! `#[builtins]`:
//!
//! ```ignore
//! #[builtins]
//! mod impls {
//!     /// Returns the length of a list.
//!     #[builtin("length")]
//!     async fn builtin_length(co: &Co, xs: Value) -> Result<Value, Error> { … }
//!
//!     /// Forces `a`, then returns `b`.
//!     #[builtin("seq", fast = seq_now)]
//!     async fn builtin_seq(co: &Co, a: Value, #[lazy] b: Value) -> Result<Value, Error> { … }
//! }
//! ```
//!
//! The attribute adds `pub fn builtins() -> Vec<BuiltinDef>` to the
//! module, one entry per `#[builtin]` function: its name, its arity (the
//! parameters after `co`), its doc comment, and a wrapper that takes the
//! argument vector, forces every argument not marked `#[lazy]` (in order,
//! before the body runs) and calls the function. `fast = path` names a
//! synchronous fast path (`FastFn`). `feature = "name"` makes the builtin
//! exist only when that CppNix experimental feature is enabled (as
//! `parseFlakeRef` needs `flakes`).
//!
//! With `#[builtins(state = Type)]` every function takes a `Type` first,
//! and `builtins(state: Type)` clones it into each builtin: this is how a
//! builtin from another crate holds a store handle. Generated code names
//! the evaluator as `::tvix_eval` (the evaluator crate itself declares
//! `extern crate self as tvix_eval`).

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::{
    Attribute, Expr, ExprLit, FnArg, Item, ItemFn, ItemMod, Lit, LitStr, Meta, Path, Type,
    parse_macro_input,
};

#[proc_macro_attribute]
pub fn builtins(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut state: Option<Type> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("state") {
            state = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error("expected `state = Type`"))
        }
    });
    if let Err(e) = parser.parse(args) {
        return e.to_compile_error().into();
    }
    let mut module = parse_macro_input!(item as ItemMod);
    match expand(&mut module, state.as_ref()) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// What `#[builtin(...)]` says about one function.
struct BuiltinAttr {
    name: LitStr,
    fast: Option<Path>,
    feature: Option<LitStr>,
}

fn expand(module: &mut ItemMod, state: Option<&Type>) -> syn::Result<TokenStream2> {
    let Some((_, items)) = module.content.as_mut() else {
        return Err(syn::Error::new_spanned(
            &module.ident,
            "#[builtins] needs an inline module (`mod name { … }`)",
        ));
    };
    let mut defs = Vec::new();
    for item in items.iter_mut() {
        let Item::Fn(func) = item else { continue };
        let Some(attr) = take_builtin_attr(func)? else {
            continue;
        };
        defs.push(builtin_def(func, attr, state)?);
    }
    let state_param = state.map(|ty| quote!(state: #ty));
    items.push(syn::parse_quote! {
        /// The builtins defined in this module.
        pub fn builtins(#state_param) -> ::std::vec::Vec<::tvix_eval::builtins::BuiltinDef> {
            ::std::vec![#(#defs),*]
        }
    });
    Ok(quote!(#module))
}

/// Removes and parses the `#[builtin(...)]` attribute of a function.
fn take_builtin_attr(func: &mut ItemFn) -> syn::Result<Option<BuiltinAttr>> {
    let Some(index) = func.attrs.iter().position(|a| a.path().is_ident("builtin")) else {
        return Ok(None);
    };
    let attr = func.attrs.remove(index);
    let mut name = None;
    let mut fast = None;
    let mut feature = None;
    attr.parse_args_with(|input: syn::parse::ParseStream| {
        name = Some(input.parse::<LitStr>()?);
        while !input.is_empty() {
            input.parse::<syn::Token![,]>()?;
            let key: syn::Ident = input.parse()?;
            input.parse::<syn::Token![=]>()?;
            if key == "fast" {
                fast = Some(input.parse::<Path>()?);
            } else if key == "feature" {
                feature = Some(input.parse::<LitStr>()?);
            } else {
                return Err(syn::Error::new(
                    key.span(),
                    "expected `fast = path` or `feature = \"name\"`",
                ));
            }
        }
        Ok(())
    })?;
    let name = name.ok_or_else(|| syn::Error::new_spanned(&attr, "expected a builtin name"))?;
    Ok(Some(BuiltinAttr {
        name,
        fast,
        feature,
    }))
}

/// The doc comment of a function, lines joined, common indent removed.
fn doc_comment(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// The `BuiltinDef` expression for one function; strips `#[lazy]` from
/// its parameters.
fn builtin_def(
    func: &mut ItemFn,
    attr: BuiltinAttr,
    state: Option<&Type>,
) -> syn::Result<TokenStream2> {
    if func.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            func.sig.fn_token,
            "a builtin is an `async fn`",
        ));
    }
    let leading = 1 + usize::from(state.is_some());
    if func.sig.inputs.len() < leading + 1 {
        return Err(syn::Error::new_spanned(
            &func.sig,
            if state.is_some() {
                "a builtin takes the state, `co: &Co` and at least one argument"
            } else {
                "a builtin takes `co: &Co` and at least one argument"
            },
        ));
    }
    let mut args = Vec::new();
    let mut forced = Vec::new();
    // The arguments forced before the body runs, as a bit set the VM
    // reads to force them itself (see `BuiltinDef::strict`).
    let mut strict = 0u32;
    for (i, input) in func.sig.inputs.iter_mut().enumerate().skip(leading) {
        let FnArg::Typed(param) = input else {
            return Err(syn::Error::new_spanned(input, "builtins take no `self`"));
        };
        let ident = format_ident!("arg{}", i - leading);
        let before = param.attrs.len();
        param.attrs.retain(|a| !a.path().is_ident("lazy"));
        if param.attrs.len() == before {
            forced.push(ident.clone());
            strict |= 1u32 << (i - leading).min(31);
        }
        args.push(ident);
    }
    // `co` is a parameter of every builtin, used or not.
    func.attrs
        .push(syn::parse_quote!(#[allow(unused_variables)]));
    let fn_name = &func.sig.ident;
    let name = attr.name;
    let arity = args.len();
    let doc = doc_comment(&func.attrs);
    let fast = match attr.fast {
        Some(path) => quote!(::std::option::Option::Some(#path)),
        None => quote!(::std::option::Option::None),
    };
    let feature = match attr.feature {
        Some(name) => quote!(.requires_feature(#name)),
        None => quote!(),
    };
    let (clone_outer, clone_inner, state_arg) = match state {
        Some(_) => (
            quote!(let state = ::std::clone::Clone::clone(&state);),
            quote!(let state = ::std::clone::Clone::clone(&state);),
            quote!(state,),
        ),
        None => (quote!(), quote!(), quote!()),
    };
    Ok(quote! {
        ::tvix_eval::builtins::BuiltinDef::new(
            #name,
            #arity,
            #doc,
            {
                #clone_outer
                ::std::rc::Rc::new(
                    move |co: ::tvix_eval::builtins::Co,
                          args: ::std::vec::Vec<::tvix_eval::Value>|
                          -> ::tvix_eval::builtins::GenFuture {
                        #clone_inner
                        ::std::boxed::Box::pin(async move {
                            let [#(#args),*] = ::tvix_eval::builtins::take_args(args)?;
                            #(let #forced = co.force(#forced).await?;)*
                            #fn_name(#state_arg &co, #(#args),*)
                                .await
                                .map_err(::std::convert::Into::into)
                        })
                    },
                )
            },
            #fast,
        )
        .with_strict(#strict)
        #feature
    })
}
