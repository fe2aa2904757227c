//! `advise` as text: the checklist, one item per block, worst first within the order of the
//! checklist kept stable (the JSON form is the analysis serialized: `{"advice": [...]}`).

use crate::analyses::advise::Advice;

/// The checklist as text.
pub fn text(items: &[Advice], header: &str) -> String {
    let mut o = format!("{header}\n");
    let counts = [
        crate::analyses::advise::Severity::Critical,
        crate::analyses::advise::Severity::Warning,
        crate::analyses::advise::Severity::Info,
        crate::analyses::advise::Severity::Ok,
    ]
    .iter()
    .map(|s| format!("{} {}", items.iter().filter(|i| i.severity == *s).count(), s.word()))
    .collect::<Vec<_>>()
    .join(", ");
    o.push_str(&format!("{} items: {counts}\n", items.len()));
    for i in items {
        o.push_str(&format!("\n[{}] {}: {}\n", i.severity.word().to_uppercase(), i.code, i.title));
        o.push_str(&format!("  {}\n", i.judgement));
        for e in &i.evidence {
            let obj = match (&e.kind, &e.id) {
                (Some(k), Some(id)) => match &e.name {
                    Some(n) => format!("{k} {id} ({n}) "),
                    None => format!("{k} {id} "),
                },
                _ => e.name.as_ref().map(|n| format!("{n} ")).unwrap_or_default(),
            };
            let at = e.index.map(|i| format!("@{i} ")).unwrap_or_default();
            o.push_str(&format!("  - {obj}{at}{}\n", e.detail));
        }
        for s in &i.sources {
            o.push_str(&format!(
                "  source ({}): {}{}\n",
                s.from,
                s.lesson,
                s.reference.map(|r| format!(" <{r}>")).unwrap_or_default()
            ));
        }
    }
    o
}
