//! `nib eval humaneval`: completion checked by execution, on HumanEval single-line infilling
//! (openai/human-eval-infilling, MIT; the data file is embedded from `server/bench/data/human-eval-infilling`).
//! Each task hides one line of a function: the file is the task's prompt, the hidden line's indentation and the
//! suffix, with the cursor after that indentation, asked as an explicit request through `eval::run`, the path
//! `nib eval` takes. The suggestion's first line goes in at the cursor, and the program (prompt, line, suffix, the
//! task's tests and `check(entry_point)`, as human-eval-infilling assembles it) runs with python3 in a temporary
//! folder with a time limit: pass@1 is the share of tasks whose program exits 0.
//!
//! Invariants: the same seed and count give the same tasks; programs run outside the repository, one at a time,
//! and a program that outlives its limit is killed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::SplitMix;
use super::eval::{Case, Outcome};

/// The data file, gzipped JSON lines, one task a line.
const DATA: &[u8] = include_bytes!("../data/human-eval-infilling/HumanEval-SingleLineInfilling.jsonl.gz");

#[derive(Debug, thiserror::Error)]
pub enum HumanEvalError {
    #[error("reading the HumanEval data: {0}")]
    Data(#[from] std::io::Error),
    #[error("HumanEval task on line {line}: {source}")]
    Task { line: usize, source: serde_json::Error },
    #[error("running python3 in {dir}: {source}")]
    Python { dir: PathBuf, source: std::io::Error },
}

/// One task as the data file has it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Task {
    pub task_id: String,
    pub entry_point: String,
    /// The code before the hidden line, ending with a newline.
    pub prompt: String,
    /// The code after the hidden line.
    pub suffix: String,
    /// The hidden line, with its indentation and newline.
    pub canonical_solution: String,
    /// Python defining `check(candidate)`.
    pub test: String,
}

impl Task {
    fn indentation(&self) -> &str {
        nib_text::indent::indentation(&self.canonical_solution)
    }

    /// The file as the user has it: the hidden line reduced to its indentation, the cursor after it.
    pub fn case(&self) -> Case {
        let indentation = self.indentation();
        let masked = format!("{}{indentation}\n{}", self.prompt, self.suffix);
        let line = self.prompt.matches('\n').count();
        let expected = self.canonical_solution[indentation.len()..].trim_end_matches(['\n', '\r']).to_owned();
        let file = PathBuf::from(format!("{}.py", self.task_id.replace('/', "-")));
        Case::new(file, "python", masked, (line, indentation.chars().count()), expected)
    }

    /// The program that checks `line`, inserted at the cursor: human-eval-infilling's, with `line` as the middle.
    pub fn program(&self, line: &str) -> String {
        format!(
            "{}{}{line}\n{}\n{}\ncheck({})\n",
            self.prompt,
            self.indentation(),
            self.suffix,
            self.test,
            self.entry_point
        )
    }
}

/// Every task of the embedded data file, in its order.
pub fn tasks() -> Result<Vec<Task>, HumanEvalError> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(DATA).read_to_string(&mut text)?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).map_err(|source| HumanEvalError::Task { line: i + 1, source }))
        .collect()
}

/// `n` tasks drawn with `seed` (all of them when `n` is larger), in the data file's order.
pub fn sample(tasks: &[Task], n: usize, seed: u64) -> Vec<Task> {
    let mut rng = SplitMix(seed);
    let mut pool: Vec<usize> = (0..tasks.len()).collect();
    let mut chosen = Vec::new();
    while chosen.len() < n && !pool.is_empty() {
        chosen.push(pool.swap_remove(rng.below(pool.len())));
    }
    chosen.sort_unstable();
    chosen.into_iter().map(|i| tasks[i].clone()).collect()
}

/// How a program ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "error")]
pub enum Verdict {
    Passed,
    /// Exited non-zero: the last line python3 wrote to stderr.
    Failed(String),
    TimedOut,
}

/// Runs `program` with python3 (isolated mode: no user site, no environment) as `dir/task.py`, from `dir`,
/// killed after `limit`.
pub fn execute(program: &str, dir: &Path, limit: Duration) -> Result<Verdict, HumanEvalError> {
    let python = |source| HumanEvalError::Python { dir: dir.to_owned(), source };
    let script = dir.join("task.py");
    let errors = dir.join("stderr.txt");
    std::fs::write(&script, program).map_err(python)?;
    let mut child = Command::new("python3")
        .arg("-I")
        .arg(&script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&errors).map_err(python)?)
        .spawn()
        .map_err(python)?;
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(python)? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            // Already exited, or killed now: either way it is reaped below.
            let _ = child.kill();
            child.wait().map_err(python)?;
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(match status {
        None => Verdict::TimedOut,
        Some(status) if status.success() => Verdict::Passed,
        Some(status) => {
            let stderr = std::fs::read_to_string(&errors).unwrap_or_default();
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
            Verdict::Failed(if last.is_empty() { status.to_string() } else { last.to_owned() })
        }
    })
}

/// One task's result.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub task_id: String,
    /// The line inserted at the cursor: the suggestion's first line.
    pub suggestion: String,
    pub expected: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Runs each task's program with its suggestion (`outcomes[i]` answers `tasks[i]`).
pub fn check(
    tasks: &[Task],
    outcomes: &[Outcome],
    dir: &Path,
    limit: Duration,
    mut progress: impl FnMut(&Checked),
) -> Result<Vec<Checked>, HumanEvalError> {
    let mut checked = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        let task = &tasks[outcome.case];
        let verdict = execute(&task.program(&outcome.suggestion), dir, limit)?;
        let result = Checked {
            task_id: task.task_id.clone(),
            suggestion: outcome.suggestion.clone(),
            expected: task.case().expected,
            verdict,
        };
        progress(&result);
        checked.push(result);
    }
    Ok(checked)
}

/// The counts `nib eval humaneval` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub tasks: usize,
    pub passed: usize,
    pub failed: usize,
    pub timed_out: usize,
    /// Suggestions whose first line is blank (counted in `passed` or `failed` like the others).
    pub empty: usize,
    pub pass_at_1: f64,
}

pub fn summarize(checked: &[Checked]) -> Summary {
    let count = |f: &dyn Fn(&Checked) -> bool| checked.iter().filter(|c| f(c)).count();
    let passed = count(&|c| c.verdict == Verdict::Passed);
    Summary {
        tasks: checked.len(),
        passed,
        failed: count(&|c| matches!(c.verdict, Verdict::Failed(_))),
        timed_out: count(&|c| c.verdict == Verdict::TimedOut),
        empty: count(&|c| c.suggestion.trim().is_empty()),
        pass_at_1: passed as f64 / checked.len().max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_task() -> Task {
        let tasks = tasks().unwrap();
        assert_eq!(tasks.len(), 1033);
        tasks.into_iter().next().unwrap()
    }

    #[test]
    fn a_task_becomes_the_file_a_user_has_and_the_program_that_checks_it() {
        let task = first_task();
        assert_eq!(task.task_id, "SingleLineInfilling/HumanEval/0/L0");
        let case = task.case();
        assert_eq!((case.line, case.column), (12, 4));
        assert_eq!(case.expected, "for idx, elem in enumerate(numbers):");
        let program = task.program("for idx, elem in enumerate(numbers):");
        assert!(program.starts_with(&task.prompt), "{program}");
        assert!(program.ends_with("\ncheck(has_close_elements)\n"), "{program}");
        let lines: Vec<&str> = program.lines().collect();
        assert_eq!(lines[12], "    for idx, elem in enumerate(numbers):");
        assert_eq!(lines[13], "        for idx2, elem2 in enumerate(numbers):");
        let masked = serde_json::to_value(&case).unwrap();
        assert_eq!(masked["expected"], "for idx, elem in enumerate(numbers):");
    }

    #[test]
    fn the_canonical_line_passes_and_a_wrong_one_fails_or_times_out() {
        let task = first_task();
        let dir = std::env::temp_dir().join(format!("nib-humaneval-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let canonical = task.canonical_solution.trim();
        let limit = Duration::from_secs(10);
        let passed = execute(&task.program(canonical), &dir, limit).unwrap();
        let wrong = execute(&task.program("for idx, elem in enumerate(numbers[:1]):"), &dir, limit).unwrap();
        let empty = execute(&task.program(""), &dir, limit).unwrap();
        // Compares 0.0 with each number forever: the first check's numbers are all 1.0 or more apart from it.
        let forever = task.program("for idx, elem in iter(lambda: (0, 0.0), None):");
        let endless = execute(&forever, &dir, Duration::from_millis(500)).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(passed, Verdict::Passed);
        assert_eq!(wrong, Verdict::Failed("AssertionError".into()));
        assert!(matches!(&empty, Verdict::Failed(e) if e.starts_with("IndentationError")), "{empty:?}");
        assert_eq!(endless, Verdict::TimedOut);
    }

    #[test]
    fn sampling_is_seeded_and_in_file_order() {
        let tasks = tasks().unwrap();
        let ids = |seed| sample(&tasks, 5, seed).into_iter().map(|t| t.task_id).collect::<Vec<_>>();
        assert_eq!(ids(1), ids(1));
        assert_ne!(ids(1), ids(2));
        let first = sample(&tasks, 5, 1);
        let positions: Vec<usize> =
            first.iter().map(|t| tasks.iter().position(|u| u.task_id == t.task_id).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        assert_eq!(sample(&tasks, 5000, 1).len(), tasks.len());
    }
}
