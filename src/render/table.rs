//! Text tables in the docker CLI's style: upper-case headers, columns left-aligned and separated
//! by at least three spaces (Go's `tabwriter` with padding 3), no borders.

/// A table being built.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headers.
    pub fn new(headers: &[&str]) -> Table {
        Table { headers: headers.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }
    /// Add a row (missing cells are empty, extra cells are kept).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    /// Render with a trailing newline after every line.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        self.write(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("cells are strings")
    }

    /// Write the rendered table (as [`Table::render`]) line by line into `w`.
    pub fn write<W: std::io::Write + ?Sized>(&self, w: &mut W) -> std::io::Result<()> {
        let ncol = self.rows.iter().map(|r| r.len()).chain([self.headers.len()]).max().unwrap_or(0);
        let mut width = vec![0usize; ncol];
        for r in std::iter::once(&self.headers).chain(self.rows.iter()) {
            for (i, c) in r.iter().enumerate() {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let mut line = String::new();
        for r in std::iter::once(&self.headers).chain(self.rows.iter()) {
            line.clear();
            for (i, wi) in width.iter().enumerate() {
                let c = r.get(i).map(String::as_str).unwrap_or("");
                line.push_str(c);
                if i + 1 < ncol {
                    let pad = wi - c.chars().count() + 3;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            w.write_all(line.trim_end().as_bytes())?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn columns_are_padded_by_three_spaces() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["abc".into(), "web".into()]);
        t.row(vec!["a".into(), "".into()]);
        assert_eq!(t.render(), "ID    NAME\nabc   web\na\n");
    }
}
