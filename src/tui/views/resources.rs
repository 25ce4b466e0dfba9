//! Resources: provider resources, directory groups and roles, with member counts.

use super::*;

pub struct Resources;

impl View for Resources {
    fn id(&self) -> ViewId {
        ViewId::Resources
    }
    fn name(&self) -> &'static str {
        "resources"
    }
    fn title(&self) -> &'static str {
        "Resources"
    }
    fn decidable(&self) -> bool {
        true
    }
    fn shows_decisions(&self) -> bool {
        true
    }
    fn empty(&self) -> &'static str {
        "Nothing here in this snapshot."
    }
    fn detail<'a>(&self, s: &State, t: &Theme, item: u32) -> Vec<Line<'a>> {
        let d = &*s.data;
        let i = item as usize;
        let mut out = Vec::new();
        let Some(r) = d.resources.get(i) else {
            return out;
        };
        out.push(field(
            t,
            "resource",
            format!("{} {} ({})", r.kind, r.name, r.status),
        ));
        out.extend(decision_line(s, t, d, s.view, item));
        out.push(field(t, "id", &r.id));
        out.push(field(t, "source", format!("{} ({})", r.source, r.provider)));
        out.push(field(t, "members", r.members.to_string()));
        out
    }
    fn target(&self, d: &Data, item: u32) -> Option<(Target, String, Option<String>)> {
        let r = d.resources.get(item as usize)?;
        Some((
            Target::new(&r.provider, &r.source, "resource", &r.id),
            format!("{} {}", r.kind, r.name),
            None,
        ))
    }
    fn target_id<'d>(&self, d: &'d Data, item: u32) -> Option<&'d str> {
        d.resources.get(item as usize).map(|r| r.id.as_str())
    }
}

impl Data {
    pub(crate) fn resources_table(resources: &[ResourceItem]) -> Table {
        let rows = resources
            .iter()
            .enumerate()
            .map(|(i, r)| {
                Row::new(
                    vec![
                        clean(&r.name),
                        r.kind.clone(),
                        r.provider.clone(),
                        r.members.to_string(),
                        r.status.clone(),
                        clean(&r.id),
                    ],
                    vec![NONE, NONE, NONE, r.members, NONE, NONE],
                    if r.status == "archived" {
                        Tone::Muted
                    } else {
                        Tone::Normal
                    },
                    i as u32,
                )
            })
            .collect();
        Table {
            columns: vec![
                Column::text("name", 24),
                Column::text("kind", 10),
                Column::text("provider", 9),
                Column::num("members", 7, Unit::Count),
                Column::text("status", 8),
                Column::grow("id", 10),
            ],
            rows,
        }
    }
}
