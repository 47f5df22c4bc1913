//! Diacritic folding for search: "dan van kheo" finds "Dân vận khéo".

use unicode_normalization::UnicodeNormalization;

/// Lowercases and strips Vietnamese diacritics (and đ → d), so that text typed
/// without accents on a cheap keyboard still matches.
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            other => other,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn folds_vietnamese() {
        assert_eq!(super::fold("Dân vận khéo"), "dan van kheo");
        assert_eq!(
            super::fold("Đức Phổ – Phường Nguyễn Nghiêm"),
            "duc pho – phuong nguyen nghiem"
        );
        assert_eq!(super::fold("ĐỐI THOẠI"), "doi thoai");
    }
}
