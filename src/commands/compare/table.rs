//! The terminal's side-by-side table, in blocks of strategies that fit the width.

use super::Comparison;

/// Columns the terminal table may use.
pub const TABLE_WIDTH: usize = 120;

/// The table, strategies in blocks that fit [`TABLE_WIDTH`], figure labels on every block.
pub fn text(c: &Comparison) -> String {
    let label_width = c
        .metrics
        .iter()
        .map(|m| m.row_label().chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let cells: Vec<Vec<String>> = c
        .strategies
        .iter()
        .map(|s| {
            c.metrics
                .iter()
                .map(|m| {
                    let (text, best) = c.shown(m, s);
                    format!("{text}{}", if best { " ★" } else { "  " })
                })
                .collect()
        })
        .collect();
    let width_of = |i: usize| {
        let name = c.strategies[i].name.chars().count();
        cells[i]
            .iter()
            .map(|t| t.chars().count())
            .chain([name])
            .max()
            .unwrap_or(8)
            + 2
    };
    let mut blocks: Vec<Vec<usize>> = vec![Vec::new()];
    let mut used = label_width;
    for i in 0..c.strategies.len() {
        let w = width_of(i);
        let block = blocks.last_mut().expect("one block");
        if !block.is_empty() && used + w > TABLE_WIDTH {
            blocks.push(Vec::new());
            used = label_width;
        }
        blocks.last_mut().expect("one block").push(i);
        used += w;
    }
    let mut out = String::new();
    for (b, block) in blocks.iter().enumerate() {
        if b > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{:<label_width$}", ""));
        for &i in block {
            let w = width_of(i);
            out.push_str(&format!("{:>w$}", format!("{}  ", c.strategies[i].name)));
        }
        out.push('\n');
        for (row, m) in c.metrics.iter().enumerate() {
            out.push_str(&format!("{:<label_width$}", m.row_label()));
            for &i in block {
                let w = width_of(i);
                out.push_str(&format!("{:>w$}", cells[i][row]));
            }
            out.push('\n');
        }
    }
    out.push_str(&crate::format::wrap(&super::best::rule(&c.strategies), 120, 2));
    if let Some(catalog) = &c.catalog {
        out.push_str(&format!("(costs priced by {catalog})\n"));
    }
    out.push_str(&crate::summary::Assumption::lines(&c.rests_on));
    out
}
