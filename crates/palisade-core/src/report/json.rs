use std::io::{self, Write};

use super::{ErrorRecord, ObjectReport, Reporter, Summary};
use crate::error::InputError;

/// Palisade's JSON report: `{"schemaVersion", "tool", "findings": [...], "errors": [...], "summary"}`.
#[derive(Debug)]
pub struct JsonReporter<W: Write> {
    out: W,
    tool_version: String,
    started: bool,
    first_finding: bool,
    errors: Vec<InputError>,
}

impl<W: Write> JsonReporter<W> {
    pub fn new(out: W, tool_version: &str) -> Self {
        Self {
            out,
            tool_version: tool_version.to_owned(),
            started: false,
            first_finding: true,
            errors: Vec::new(),
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            write!(
                self.out,
                "{{\n\"schemaVersion\": 1,\n\"tool\": {{\"name\": \"palisade\", \"version\": {}}},\n\"findings\": [",
                serde_json::to_string(&self.tool_version)?
            )?;
        }
        Ok(())
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn object(&mut self, report: &ObjectReport) -> io::Result<()> {
        self.start()?;
        for finding in &report.findings {
            let sep = if self.first_finding { "\n  " } else { ",\n  " };
            self.first_finding = false;
            self.out.write_all(sep.as_bytes())?;
            serde_json::to_writer(&mut self.out, finding)?;
        }
        Ok(())
    }

    fn error(&mut self, error: &InputError) -> io::Result<()> {
        self.errors.push(error.clone());
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.start()?;
        let errors: Vec<ErrorRecord<'_>> = self.errors.iter().map(ErrorRecord::from).collect();
        write!(
            self.out,
            "\n],\n\"errors\": {},\n\"summary\": {}\n}}\n",
            serde_json::to_string_pretty(&errors)?,
            serde_json::to_string_pretty(summary)?
        )?;
        self.out.flush()
    }
}
