//! `#[derive(Describe)]`: the `netanom plugins` reference, taken from a
//! plugin config struct's doc comments, field types and serde defaults, so
//! that the docs cannot drift from what the config parser accepts.

use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, Attribute, Data, DeriveInput, Expr, ExprLit, Fields, Lit, Meta};

/// Implements `netanom_records::doc::Describe` for a struct with named
/// fields. Reads `///` docs, `#[serde(default)]`,
/// `#[serde(default = "path")]` and `#[serde(rename = "name")]`; a field of
/// type `Option<..>` is optional. `#[describe(ty = "auto | always")]` names
/// a field's type for readers where the Rust type says little.
#[proc_macro_derive(Describe, attributes(describe))]
pub fn derive_describe(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let name = &input.ident;
    let struct_doc = doc_text(&input.attrs);
    let container_default = serde_default(&input.attrs)?.is_some();
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named.named.iter().collect::<Vec<_>>(),
            Fields::Unit => Vec::new(),
            Fields::Unnamed(_) => {
                return Err(syn::Error::new_spanned(name, "Describe needs named fields"))
            }
        },
        _ => return Err(syn::Error::new_spanned(name, "Describe works on structs")),
    };
    let mut options = Vec::new();
    for field in fields {
        let ident = field
            .ident
            .as_ref()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let key = serde_rename(&field.attrs)?.unwrap_or(ident.clone());
        let doc = doc_text(&field.attrs);
        let ty = &field.ty;
        let ty_text = describe_ty(&field.attrs)?.unwrap_or_else(|| quote!(#ty).to_string());
        let is_option = quote!(#ty).to_string().starts_with("Option <");
        let default = match serde_default(&field.attrs)? {
            Some(Some(path)) => {
                let path: syn::ExprPath = syn::parse_str(&path)?;
                quote!(Some(::netanom_records::doc::render_default(&#path())))
            }
            Some(None) => {
                quote!(Some(::netanom_records::doc::render_default(&<#ty as ::std::default::Default>::default())))
            }
            None if container_default => {
                let field_ident = &field.ident;
                quote!(Some(::netanom_records::doc::render_default(&<#name as ::std::default::Default>::default().#field_ident)))
            }
            None => quote!(None),
        };
        options.push(quote! {
            {
                let default: Option<String> = #default;
                let optional = #is_option || default.is_some();
                // `None` as a default means "optional", not a value to show.
                let default = default.filter(|d| d != "null");
                ::netanom_records::doc::OptionDoc {
                    name: #key,
                    rust_type: #ty_text,
                    optional,
                    default,
                    doc: #doc,
                }
            }
        });
    }
    Ok(quote! {
        impl ::netanom_records::doc::Describe for #name {
            fn describe() -> ::netanom_records::doc::StructDoc {
                ::netanom_records::doc::StructDoc {
                    doc: #struct_doc,
                    options: vec![#(#options),*],
                }
            }
        }
    })
}

/// The doc comment, lines joined with single spaces between sentences of
/// one paragraph and blank lines kept as paragraph breaks.
fn doc_text(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                lines.push(s.value().trim().to_string());
            }
        }
    }
    let mut text = String::new();
    for line in lines {
        if line.is_empty() {
            text.push_str("\n\n");
        } else {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push(' ');
            }
            text.push_str(&line);
        }
    }
    text.trim().to_string()
}

/// `Some(None)` for `#[serde(default)]`, `Some(Some(path))` for
/// `#[serde(default = "path")]`.
fn serde_default(attrs: &[Attribute]) -> syn::Result<Option<Option<String>>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                if meta.input.peek(syn::Token![=]) {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    found = Some(Some(lit.value()));
                } else {
                    found = Some(None);
                }
            } else if meta.input.peek(syn::Token![=]) {
                let _: Expr = meta.value()?.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(found)
}

fn serde_rename(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let lit: syn::LitStr = meta.value()?.parse()?;
                found = Some(lit.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: Expr = meta.value()?.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(found)
}

fn describe_ty(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("describe")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("ty") {
                let lit: syn::LitStr = meta.value()?.parse()?;
                found = Some(lit.value());
                Ok(())
            } else {
                Err(meta.error("expected `ty = \"...\"`"))
            }
        })?;
    }
    Ok(found)
}
