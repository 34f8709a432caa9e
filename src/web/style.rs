//! The EHR's look: CSS custom properties on the root element.

use wasm_bindgen::JsCast;

/// Sets each `(property, value)` on `document.documentElement.style` through the CSSOM
/// (`CSSStyleDeclaration.setProperty`), which a CSP of `style-src 'self'` allows, unlike a
/// `style` attribute written as text. Only custom properties (`--…`) are set; the values are
/// expected to come checked from `smart::style::parse_style`. A value the browser refuses is
/// skipped: the style is cosmetic and Cairn's own tokens stay in force.
pub fn apply(properties: &[(&str, String)]) {
    let Some(root) = root_style() else {
        return;
    };
    for (property, value) in properties {
        if property.starts_with("--") {
            let _ = root.set_property(property, value);
        }
    }
}

/// The inline style of `<html>`.
fn root_style() -> Option<web_sys::CssStyleDeclaration> {
    let root = web_sys::window()?.document()?.document_element()?;
    Some(root.dyn_into::<web_sys::HtmlElement>().ok()?.style())
}
