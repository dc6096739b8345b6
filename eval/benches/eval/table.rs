//! The result table, as markdown.

use std::time::Duration;

use crate::run::Run;

/// What one evaluator did on one program.
pub enum Outcome {
    Ran(Run),
    Failed(String),
    /// The evaluator is not available.
    Absent,
}

impl Outcome {
    fn run(&self) -> Option<&Run> {
        match self {
            Outcome::Ran(r) => Some(r),
            _ => None,
        }
    }
}

pub struct Row {
    pub name: String,
    /// One per evaluator, in the table's column order: tvix first, the
    /// reference (whose output tvix must match and whose time the ratios
    /// divide by) second.
    pub outcomes: Vec<Outcome>,
}

impl Row {
    /// Whether tvix printed what the reference printed (`None` when either
    /// did not run).
    pub fn agrees(&self) -> Option<bool> {
        let tvix = self.outcomes.first()?.run()?;
        let reference = self.outcomes.get(1)?.run()?;
        Some(tvix.stdout == reference.stdout)
    }

    /// tvix's wall time over the reference's, when both ran and agree.
    pub fn time_ratio(&self) -> Option<f64> {
        self.ratio(|r| Some(r.wall.as_secs_f64()))
    }

    fn ratio(&self, of: impl Fn(&Run) -> Option<f64>) -> Option<f64> {
        if self.agrees() != Some(true) {
            return None;
        }
        let tvix = of(self.outcomes[0].run()?)?;
        let reference = of(self.outcomes[1].run()?)?;
        (reference > 0.0).then(|| tvix / reference)
    }
}

pub struct Table {
    /// The evaluators' names, in column order.
    pub evaluators: Vec<String>,
    pub rows: Vec<Row>,
    /// The target for the time ratio.
    pub target: f64,
}

impl Table {
    pub fn print(&self) {
        let reference = self.evaluators.get(1).map_or("-", |s| s.as_str());
        let mut header = vec!["program".to_string()];
        for e in &self.evaluators {
            header.push(format!("{e} time"));
            header.push(format!("{e} RSS"));
        }
        header.push(format!("time tvix/{reference}"));
        header.push(format!("RSS tvix/{reference}"));
        header.push(format!("CPU tvix/{reference}"));
        println!();
        println!("| {} |", header.join(" | "));
        println!(
            "|{}",
            header
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
                .collect::<String>()
        );
        for row in &self.rows {
            let mut cells = vec![row.name.clone()];
            for outcome in &row.outcomes {
                match outcome {
                    Outcome::Ran(r) => {
                        cells.push(ms(r.wall));
                        cells.push(mib(r.max_rss_kib));
                    }
                    Outcome::Failed(_) => cells.extend(["failed".into(), "-".into()]),
                    Outcome::Absent => cells.extend(["-".into(), "-".into()]),
                }
            }
            match row.agrees() {
                Some(false) => cells.extend(["**differs**".into(), "-".into(), "-".into()]),
                _ => {
                    let mark = |r: f64| {
                        if r > self.target {
                            format!("**{r:.2}**")
                        } else {
                            format!("{r:.2}")
                        }
                    };
                    cells.push(row.time_ratio().map_or("-".into(), mark));
                    cells.push(row.ratio(|r| r.max_rss_kib.map(|k| k as f64)).map_or(
                        "-".into(),
                        |r| {
                            if r > 1.0 {
                                format!("**{r:.2}**")
                            } else {
                                format!("{r:.2}")
                            }
                        },
                    ));
                    cells.push(
                        row.ratio(|r| r.cpu.map(|c| c.as_secs_f64()))
                            .map_or("-".into(), |r| format!("{r:.2}")),
                    );
                }
            }
            println!("| {} |", cells.join(" | "));
        }
        self.print_summary(reference);
    }

    fn print_summary(&self, reference: &str) {
        let ratios: Vec<f64> = self.rows.iter().filter_map(Row::time_ratio).collect();
        if ratios.is_empty() {
            return;
        }
        let within = ratios.iter().filter(|&&r| r <= self.target).count();
        let geomean = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
        let worst = ratios.iter().cloned().fold(0.0, f64::max);
        println!();
        println!(
            "time tvix/{reference} (wall, best of runs): {within} of {} programs at or below {:.2}; \
             worst {worst:.2}, geometric mean {geomean:.2}",
            ratios.len(),
            self.target
        );
        let differ: Vec<&str> = self
            .rows
            .iter()
            .filter(|r| r.agrees() == Some(false))
            .map(|r| r.name.as_str())
            .collect();
        if !differ.is_empty() {
            println!(
                "tvix's output differs from {reference}'s: {}",
                differ.join(", ")
            );
        }
        for row in &self.rows {
            for (e, outcome) in self.evaluators.iter().zip(&row.outcomes) {
                if let Outcome::Failed(why) = outcome {
                    println!("{}: {e} failed: {why}", row.name);
                }
            }
        }
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("-".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
}
