//! Joining published per-target figures (`--reference`) to our targets by name.

use super::TargetRow;
use crate::EvaluateError;
use crate::{labels, reference};

/// Copies the reference's figures into the rows whose names match, and notes how many did.
pub(super) fn join_reference(
    rows: &mut [TargetRow],
    r: &reference::Reference,
    notes: &mut Vec<String>,
) -> Result<(), EvaluateError> {
    let ours: Vec<String> = rows.iter().map(|t| t.name.clone()).collect();
    // Exact names first; then, for the rest against the reference rows left, the name with
    // DeepSEA's "untreated" suffix, then names compared loosely (case, '-' and white space
    // ignored: DeepSEA's names file has USF-1 where its table has USF1, and stray
    // non-breaking spaces).
    let mut found = labels::match_names(&ours, &r.names);
    let loose = |n: &str| -> String {
        n.chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let passes: [&dyn Fn(&str) -> String; 2] = [&|n| format!("{n}|None"), &|n| loose(n)];
    for (k, key) in passes.iter().enumerate() {
        let mut used = vec![false; r.names.len()];
        found.iter().flatten().for_each(|&i| used[i] = true);
        let free: Vec<usize> = (0..r.names.len()).filter(|&i| !used[i]).collect();
        let free_names: Vec<String> = free
            .iter()
            .map(|&i| {
                if k == 1 {
                    loose(&r.names[i])
                } else {
                    r.names[i].clone()
                }
            })
            .collect();
        let unmatched: Vec<usize> = (0..ours.len()).filter(|&t| found[t].is_none()).collect();
        let alt: Vec<String> = unmatched.iter().map(|&t| key(&ours[t])).collect();
        for (j, m) in labels::match_names(&alt, &free_names)
            .into_iter()
            .enumerate()
        {
            found[unmatched[j]] = m.map(|f| free[f]);
        }
    }
    let matched = found.iter().flatten().count();
    if matched == 0 {
        return Err(EvaluateError::Mismatch(format!(
            "{}: none of the {} target names is in the reference (ours look like '{}', the \
             reference's like '{}')",
            r.path.display(),
            rows.len(),
            ours.first().map_or("", String::as_str),
            r.names.first().map_or("", String::as_str)
        )));
    }
    for (row, f) in rows.iter_mut().zip(&found) {
        if let Some(i) = *f {
            row.reference_roc_auc = r.roc_auc.as_ref().and_then(|v| v[i]);
            row.reference_pr_auc = r.pr_auc.as_ref().and_then(|v| v[i]);
        }
    }
    let missing = labels::unmatched(&ours, &found);
    let mut note = format!(
        "reference {}: {matched} of {} targets matched by name",
        r.path.display(),
        rows.len()
    );
    if !missing.is_empty() {
        note.push_str(&format!(
            "; not in the reference: {}",
            crate::first_names(&missing)
        ));
    }
    let repeated = r.names.len()
        - r.names
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
    if repeated > 0 {
        note.push_str(&format!(
            "; {repeated} reference rows repeat an earlier name (matched in order of appearance)"
        ));
    }
    notes.push(note);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_names_match_exactly_then_untreated_then_loosely() {
        let row = |name: &str| TargetRow {
            name: name.into(),
            category: "TF".into(),
            n_pos: 1,
            n_neg: 1,
            roc_auc: Some(0.5),
            pr_auc: Some(0.5),
            ..Default::default()
        };
        let mut rows = vec![
            row("K562|CTCF|None"),
            row("K562|CTCF|None"),
            row("HepG2|FOXA1"),
            row("A549|USF-1|EtOH"),
            row("Mono\u{a0}|H2AZ|None"),
            row("nowhere"),
        ];
        let r = reference::Reference {
            path: "ref.tsv".into(),
            names: [
                "K562|CTCF|None",
                "HepG2|FOXA1|None",
                "A549|USF1|EtOH",
                "K562|CTCF|None",
                "Mono|H2AZ|None",
            ]
            .map(String::from)
            .to_vec(),
            roc_auc: Some(vec![Some(0.1), Some(0.2), Some(0.3), Some(0.4), Some(0.5)]),
            pr_auc: None,
        };
        let mut notes = Vec::new();
        join_reference(&mut rows, &r, &mut notes).unwrap();
        let got: Vec<Option<f64>> = rows.iter().map(|r| r.reference_roc_auc).collect();
        assert_eq!(
            got,
            [Some(0.1), Some(0.4), Some(0.2), Some(0.3), Some(0.5), None]
        );
        assert!(notes[0].contains("5 of 6 targets matched") && notes[0].contains("nowhere"));
    }
}
