//! A virtual table: columns, immutable rows, and the two slow operations (sort, filter) as
//! pure functions over an index vector, run off the UI thread by the driver. Only the visible
//! page is ever turned into widgets.

use rayon::prelude::*;

/// "No value" in a numeric column.
pub const NONE: i64 = i64::MIN;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Text,
    Days,
    Cents,
    Count,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Lower-case name used by filter terms (`owner:none`) and `:sort`.
    pub name: &'static str,
    pub width: u16,
    pub unit: Unit,
    /// Takes the remaining width.
    pub grow: bool,
}

impl Column {
    pub const fn text(name: &'static str, width: u16) -> Column {
        Column {
            name,
            width,
            unit: Unit::Text,
            grow: false,
        }
    }
    pub const fn num(name: &'static str, width: u16, unit: Unit) -> Column {
        Column {
            name,
            width,
            unit,
            grow: false,
        }
    }
    pub const fn grow(name: &'static str, width: u16) -> Column {
        Column {
            name,
            width,
            unit: Unit::Text,
            grow: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Normal,
    Danger,
    Warn,
    Accent,
    Muted,
}

/// One row: its cells' text, each cell's filter mask and number, how it is coloured, and the
/// object it shows. A million rows are a view's whole memory, so a row is two allocations:
/// the cells' text end to end, and one block of words (the masks, the numbers when a column
/// has one, and where each cell ends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Display text, already sanitised, the cells end to end.
    text: Box<str>,
    /// `[mask; cols]`, then `[num; cols]` when `nums`, then each cell's end in `text`, two
    /// `u32`s to a word.
    meta: Box<[u64]>,
    cols: u16,
    nums: bool,
    /// How the first cell is coloured.
    pub tone: Tone,
    /// Index of the object this row shows in the view's source list.
    pub item: u32,
}

impl Row {
    /// `cells` already sanitised; `nums` per column, `NONE` for a text column.
    pub fn new(cells: Vec<String>, nums: Vec<i64>, tone: Tone, item: u32) -> Row {
        debug_assert!(
            cells.len() <= u16::MAX as usize,
            "a row of {} cells",
            cells.len()
        );
        let cols = cells.len();
        let has_nums = nums.iter().take(cols).any(|&n| n != NONE);
        let mut meta = Vec::with_capacity(cols * (1 + has_nums as usize) + cols.div_ceil(2));
        meta.extend(cells.iter().map(|c| char_mask(c)));
        if has_nums {
            meta.extend((0..cols).map(|i| nums.get(i).copied().unwrap_or(NONE) as u64));
        }
        let mut text = String::with_capacity(cells.iter().map(String::len).sum());
        let mut ends = Vec::with_capacity(cols);
        for c in &cells {
            text.push_str(c);
            // A cell past 4 GiB is cut at a character boundary rather than wrapping the end.
            let mut end = text.len().min(u32::MAX as usize);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            ends.push(end as u32);
        }
        meta.extend(
            ends.chunks(2)
                .map(|p| p[0] as u64 | (p.get(1).copied().unwrap_or(0) as u64) << 32),
        );
        Row {
            text: text.into_boxed_str(),
            meta: meta.into_boxed_slice(),
            // recert's tables have a dozen columns at most; past u16 the offsets would be
            // wrong (never out of bounds).
            cols: cols.min(u16::MAX as usize) as u16,
            nums: has_nums,
            tone,
            item,
        }
    }

    /// How many cells.
    pub fn len(&self) -> usize {
        self.cols as usize
    }

    pub fn is_empty(&self) -> bool {
        self.cols == 0
    }

    fn end(&self, i: usize) -> usize {
        let at = self.len() * (1 + self.nums as usize) + i / 2;
        let w = self.meta[at] >> (32 * (i & 1));
        w as u32 as usize
    }

    /// Column `i`'s text; empty past the last.
    pub fn cell(&self, i: usize) -> &str {
        if i >= self.len() {
            return "";
        }
        let start = if i == 0 { 0 } else { self.end(i - 1) };
        self.text.get(start..self.end(i)).unwrap_or("")
    }

    /// Every cell's text, in column order.
    pub fn cells(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.cell(i))
    }

    /// Column `i`'s `char_mask`; every bit past the last (nothing is skipped).
    pub fn mask(&self, i: usize) -> u64 {
        if i < self.len() { self.meta[i] } else { !0 }
    }

    /// The number behind column `i`; `NONE` for a text column or past the last.
    pub fn num(&self, i: usize) -> i64 {
        if self.nums && i < self.len() {
            self.meta[self.len() + i] as i64
        } else {
            NONE
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

/// Sort by one column (`desc` reverses); `None` keeps the rows' own order. Ties keep the
/// rows' own order too, so the result is deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub col: usize,
    pub desc: bool,
}

pub fn order(t: &Table, sort: Option<Sort>) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..t.rows.len() as u32).collect();
    let Some(Sort { col, desc }) = sort else {
        return idx;
    };
    let numeric = t.columns.get(col).is_some_and(|c| c.unit != Unit::Text);
    let rows = &t.rows;
    if numeric {
        idx.par_sort_by(|&a, &b| {
            let (x, y) = (rows[a as usize].num(col), rows[b as usize].num(col));
            // Rows without a value go last either way.
            let o = match (x == NONE, y == NONE) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => return std::cmp::Ordering::Greater,
                (false, true) => return std::cmp::Ordering::Less,
                _ => x.cmp(&y),
            };
            let o = if desc { o.reverse() } else { o };
            o.then(a.cmp(&b))
        });
    } else {
        return order_text(rows, col, desc);
    }
    idx
}

/// The first 16 bytes of `s`, big-endian, zero-padded: if `prefix(x) < prefix(y)` then
/// `x < y` (byte order), so sorting by it first leaves only equal prefixes to compare whole.
fn prefix(s: &str) -> u128 {
    let mut b = [0u8; 16];
    let n = s.len().min(16);
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
    u128::from_be_bytes(b)
}

/// Rows by a text column, ties by row index: the same order as comparing the cells whole,
/// in about a third of the time on a million rows. Each row is sorted first by a 16-byte
/// key held beside its index (no pointer chased per comparison); only runs of rows whose
/// keys are equal are then compared by their whole text.
fn order_text(rows: &[Row], col: usize, desc: bool) -> Vec<u32> {
    let mut keyed: Vec<(u128, u32)> = rows
        .par_iter()
        .enumerate()
        .map(|(i, r)| {
            let k = prefix(r.cell(col));
            (if desc { !k } else { k }, i as u32)
        })
        .collect();
    keyed.par_sort_unstable();
    // Runs of one key: whole text decides, then the index (already ascending in the run).
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=keyed.len() {
        if i == keyed.len() || keyed[i].0 != keyed[start].0 {
            if i - start > 1 {
                runs.push(start..i);
            }
            start = i;
        }
    }
    let mut idx: Vec<u32> = keyed.into_iter().map(|(_, i)| i).collect();
    // Runs are disjoint: cut the index list at them and sort each on its own.
    let mut parts: Vec<&mut [u32]> = Vec::with_capacity(runs.len());
    let mut rest: &mut [u32] = &mut idx;
    let mut at = 0;
    for r in &runs {
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(r.start - at);
        let (run, tail) = tail.split_at_mut(r.end - r.start);
        parts.push(run);
        rest = tail;
        at = r.end;
    }
    parts.into_par_iter().for_each(|run| {
        run.sort_by(|&a, &b| {
            let o = rows[a as usize].cell(col).cmp(rows[b as usize].cell(col));
            let o = if desc { o.reverse() } else { o };
            o.then(a.cmp(&b))
        })
    });
    idx
}

/// Which columns a table shows and how wide each is.
#[derive(Debug, PartialEq, Eq)]
pub struct Fit {
    /// Column indices, in table order.
    pub shown: Vec<usize>,
    /// Per shown column: its width.
    pub widths: Vec<u16>,
    /// How far the columns are scrolled: `scroll` as asked, less what was not needed.
    pub scroll: usize,
    /// Columns scrolled off to the left (`h`) and not reached on the right (`l`).
    pub hidden_left: usize,
    pub hidden_right: usize,
}

/// The least of a column worth showing cut.
const PART: usize = 8;

/// The widest a column grows to fit its content; longer text ends in an ellipsis.
const MAX_COLUMN: u16 = 40;

/// Each column's width from its content on the page: the widest cell or its header (with room
/// for the sort arrow), at most `MAX_COLUMN`. A growing column (a detail) asks only for its
/// minimum: it takes what is left.
pub fn natural_widths(cols: &[Column], page: &[&Row]) -> Vec<u16> {
    use unicode_width::UnicodeWidthStr;
    cols.iter()
        .enumerate()
        .map(|(i, c)| {
            if c.grow {
                return c.width;
            }
            let head = c.name.width() + 1;
            let widest = page.iter().map(|r| r.cell(i).width()).max().unwrap_or(0);
            (head.max(widest) as u16).min(MAX_COLUMN.max(c.width))
        })
        .collect()
}

/// Fit columns of `natural` widths into `width`: the first column (what the row is) always,
/// then the rest from `scroll` on (`h`/`l`), never scrolled further than needed, and the
/// sorted column always among them. What is left over goes to the growing column if shown,
/// else to the last.
pub fn fit_columns(
    cols: &[Column],
    natural: &[u16],
    width: u16,
    scroll: usize,
    sort: Option<usize>,
) -> Fit {
    let n = cols.len().min(natural.len());
    if n == 0 {
        return Fit {
            shown: Vec::new(),
            widths: Vec::new(),
            scroll: 0,
            hidden_left: 0,
            hidden_right: 0,
        };
    }
    // Two borders, the mark and decision lead, and the space after it.
    let avail = width.saturating_sub(2 + 2 + 1) as usize;
    let need = |i: usize| natural[i] as usize + 1;
    let fits_from = |s: usize| need(0) + (1 + s..n).map(need).sum::<usize>() <= avail;
    let mut scroll = scroll.min(n.saturating_sub(2));
    while scroll > 0 && fits_from(scroll - 1) {
        scroll -= 1;
    }
    let mut shown = vec![0];
    let mut left = avail.saturating_sub(need(0));
    let mut stopped = None;
    for i in 1 + scroll..n {
        if need(i) > left {
            stopped = Some(i);
            break;
        }
        shown.push(i);
        left -= need(i);
    }
    if let Some(sc) = sort.filter(|&c| c < n && !shown.contains(&c)) {
        while shown.len() > 1 && left < need(sc) {
            let dropped = shown.pop().expect("more than one");
            left += need(dropped);
        }
        if left >= need(sc) {
            shown.push(sc);
            left -= need(sc);
        }
        shown.sort_unstable();
    }
    // The next column shows cut (with an ellipsis) where a useful part of it fits, rather
    // than blank space.
    let mut part = None;
    if let Some(i) = stopped.filter(|i| !shown.contains(i))
        && left > PART
    {
        part = Some((i, (left - 1) as u16));
        shown.push(i);
        shown.sort_unstable();
        left = 0;
    }
    let mut widths: Vec<u16> = shown
        .iter()
        .map(|&i| match part {
            Some((p, w)) if p == i => w,
            _ => (natural[i] as usize).min(avail) as u16,
        })
        .collect();
    let grow = shown
        .iter()
        .position(|&i| cols[i].grow)
        .unwrap_or(shown.len() - 1);
    widths[grow] = widths[grow].saturating_add(left as u16);
    let first_scrolled = 1 + scroll;
    let hidden_left = (1..first_scrolled.min(n))
        .filter(|i| !shown.contains(i))
        .count();
    Fit {
        scroll,
        hidden_right: n - shown.len() - hidden_left,
        hidden_left,
        shown,
        widths,
    }
}

/// `s` cut to `width` columns, ending in `…` when it was longer.
pub fn ellipsize(s: &str, width: u16) -> std::borrow::Cow<'_, str> {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    let width = width as usize;
    if s.width() <= width {
        return s.into();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in s.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(ch);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out.into()
}

/// Which characters a text holds, as 64 bits: one per ASCII letter (either case) and digit, a
/// few punctuation marks, one for any other ASCII. A term whose bits are not all in a cell's
/// mask cannot match it, which rejects most rows without looking at their text. Text with any
/// non-ASCII character gets every bit (Unicode lower-casing can produce ASCII letters).
pub fn char_mask(s: &str) -> u64 {
    let mut m = 0u64;
    for b in s.bytes() {
        m |= match b.to_ascii_lowercase() {
            c @ b'a'..=b'z' => 1 << (c - b'a'),
            c @ b'0'..=b'9' => 1 << (26 + c - b'0'),
            b'.' => 1 << 36,
            b'-' => 1 << 37,
            b'_' => 1 << 38,
            b'@' => 1 << 39,
            b' ' => 1 << 40,
            b':' => 1 << 41,
            b'/' => 1 << 42,
            c if c.is_ascii() => 1 << 62,
            _ => return !0,
        };
    }
    m
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The order every text sort must give: whole cells compared, ties by row index.
    fn reference(rows: &[Row], col: usize, desc: bool) -> Vec<u32> {
        let mut idx: Vec<u32> = (0..rows.len() as u32).collect();
        idx.sort_by(|&a, &b| {
            let o = rows[a as usize].cell(col).cmp(rows[b as usize].cell(col));
            let o = if desc { o.reverse() } else { o };
            o.then(a.cmp(&b))
        });
        idx
    }

    proptest! {
        /// Cells built to share long prefixes (and to end early, or hold NUL and non-ASCII
        /// text) so equal 16-byte keys and their runs are common.
        #[test]
        fn a_text_sort_is_the_whole_text_order(
            cells in proptest::collection::vec(
                (0usize..4, proptest::collection::vec(prop_oneof![Just('a'), Just('B'), Just('\0'), Just('é'), Just('z')], 0..6)),
                0..300,
            ),
            desc in any::<bool>(),
        ) {
            let stems = ["", "person", "person.name@exam", "person.name@example.com/"];
            let rows: Vec<Row> = cells
                .iter()
                .enumerate()
                .map(|(i, (stem, tail))| {
                    let text = format!("{}{}", stems[*stem], tail.iter().collect::<String>());
                    Row::new(vec![text], vec![NONE], Tone::Normal, i as u32)
                })
                .collect();
            prop_assert_eq!(order_text(&rows, 0, desc), reference(&rows, 0, desc));
        }
    }

    proptest! {
        /// A row gives back each cell's text, mask and number as built, whatever the cells
        /// hold (empty, multi-byte, an odd count); past the last column, nothing to match.
        #[test]
        fn a_row_gives_back_what_it_was_built_from(
            cells in proptest::collection::vec(
                (proptest::collection::vec(prop_oneof![Just('a'), Just('é'), Just('\u{1F600}'), Just(' '), Just('-')], 0..8),
                 prop_oneof![Just(NONE), any::<i64>()]),
                0..9,
            ),
        ) {
            let texts: Vec<String> = cells.iter().map(|(t, _)| t.iter().collect()).collect();
            let nums: Vec<i64> = cells.iter().map(|(_, n)| *n).collect();
            let row = Row::new(texts.clone(), nums.clone(), Tone::Normal, 7);
            prop_assert_eq!(row.len(), texts.len());
            prop_assert_eq!(row.cells().collect::<Vec<_>>(), texts.iter().map(String::as_str).collect::<Vec<_>>());
            for (i, t) in texts.iter().enumerate() {
                prop_assert_eq!(row.cell(i), t.as_str());
                prop_assert_eq!(row.mask(i), char_mask(t));
                prop_assert_eq!(row.num(i), nums[i]);
            }
            prop_assert_eq!(row.cell(texts.len()), "");
            prop_assert_eq!(row.num(texts.len()), NONE);
            prop_assert_eq!(row.mask(texts.len()), !0);
        }
    }

    pub(crate) fn table() -> Table {
        let rows = [("b", 3), ("a", NONE), ("c", 1), ("a", 2)]
            .iter()
            .enumerate()
            .map(|(i, (s, n))| {
                Row::new(
                    vec![s.to_string(), n.to_string()],
                    vec![NONE, *n],
                    Tone::Normal,
                    i as u32,
                )
            })
            .collect();
        Table {
            columns: vec![Column::text("name", 4), Column::num("n", 4, Unit::Count)],
            rows,
        }
    }

    #[test]
    fn sorts_text_and_numbers_with_missing_last_and_stable_ties() {
        let t = table();
        assert_eq!(order(&t, None), [0, 1, 2, 3]);
        assert_eq!(
            order(
                &t,
                Some(Sort {
                    col: 0,
                    desc: false
                })
            ),
            [1, 3, 0, 2]
        );
        assert_eq!(order(&t, Some(Sort { col: 0, desc: true })), [2, 0, 1, 3]);
        assert_eq!(
            order(
                &t,
                Some(Sort {
                    col: 1,
                    desc: false
                })
            ),
            [2, 3, 0, 1]
        );
        assert_eq!(order(&t, Some(Sort { col: 1, desc: true })), [0, 3, 2, 1]);
    }
}
