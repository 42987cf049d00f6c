//! The two languages of user-facing text: Bahasa Indonesia first, English available.

/// A language for user-facing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Bahasa Indonesia, the default.
    #[default]
    Id,
    /// English.
    En,
}

impl Lang {
    /// Picks the text for this language.
    pub fn pick<'a>(self, id: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Id => id,
            Lang::En => en,
        }
    }

    /// Parses a language tag (`id`, `en`, `en-US`); anything else is `None`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "id" | "in" => Some(Lang::Id),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The preferred language of an HTTP `Accept-Language` header: the supported
    /// language with the highest q-value, Indonesian when none is supported.
    pub fn from_accept_language(header: &str) -> Lang {
        header
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let lang = Lang::from_tag(parts.next()?)?;
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((lang, q))
            })
            .fold(None, |best: Option<(Lang, f32)>, (lang, q)| match best {
                Some((_, best_q)) if best_q >= q => best,
                _ => Some((lang, q)),
            })
            .map_or(Lang::Id, |(lang, _)| lang)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_highest_supported() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Lang::En);
        assert_eq!(Lang::from_accept_language("id-ID,id;q=0.9,en;q=0.8"), Lang::Id);
        assert_eq!(Lang::from_accept_language("fr;q=1, en;q=0.5, id;q=0.4"), Lang::En);
        assert_eq!(Lang::from_accept_language("fr, de"), Lang::Id);
        assert_eq!(Lang::from_accept_language(""), Lang::Id);
    }
}
