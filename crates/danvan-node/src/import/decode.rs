//! Text files as commune offices save them: the one decoding path every
//! CSV import takes. A byte order mark first (UTF-8, or UTF-16 LE/BE —
//! Excel's "Unicode text"), then UTF-16 without one (a zero byte among the
//! first two), then valid UTF-8, else Windows-1258 (Vietnamese
//! Windows' ANSI code page, which writes tone marks as combining
//! characters). The text is returned in NFC, so "Nguyễn" typed on any of
//! them is stored as the same characters.

use unicode_normalization::UnicodeNormalization;

/// The encoding a file was read in, as the summary names it.
pub type EncodingName = &'static str;

/// Decodes a text file's bytes; `None` when a byte order mark promises an
/// encoding the bytes then break.
pub fn decode(bytes: &[u8]) -> Option<(String, EncodingName)> {
    let (text, name) = match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, bom)) => (
            encoding.decode_without_bom_handling_and_without_replacement(&bytes[bom..])?,
            encoding.name(),
        ),
        // UTF-16 saved without a BOM: a header starts with an ASCII
        // letter, so one of its first two bytes is zero.
        None if bytes.len() >= 2 && bytes[1] == 0 && bytes[0] != 0 => (
            encoding_rs::UTF_16LE.decode_without_bom_handling_and_without_replacement(bytes)?,
            encoding_rs::UTF_16LE.name(),
        ),
        None if bytes.len() >= 2 && bytes[0] == 0 && bytes[1] != 0 => (
            encoding_rs::UTF_16BE.decode_without_bom_handling_and_without_replacement(bytes)?,
            encoding_rs::UTF_16BE.name(),
        ),
        None => match std::str::from_utf8(bytes) {
            Ok(text) => (text.into(), "UTF-8"),
            Err(_) => (
                encoding_rs::WINDOWS_1258
                    .decode_without_bom_handling(bytes)
                    .0,
                "windows-1258",
            ),
        },
    };
    Some((text.nfc().collect(), name))
}

/// The cell separator, read from the header line: whichever of tab,
/// semicolon and comma occurs most outside quotes (comma if none).
pub fn separator(text: &str) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' | '\r' if !quoted => break,
            '\t' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            ',' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = [b'\t', b';', b','];
    let (i, n) = counts
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))
        .unwrap_or((2, &0));
    if *n == 0 { b',' } else { best[i] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_encoding_to_the_same_nfc_text() {
        let want = "Chủ hộ\nNguyễn Văn Đức";
        // UTF-8 with a BOM.
        let mut bom = vec![0xef, 0xbb, 0xbf];
        bom.extend_from_slice(want.as_bytes());
        assert_eq!(decode(&bom).unwrap(), (want.to_string(), "UTF-8"));
        // UTF-16 LE and BE with their BOMs.
        let mut le = vec![0xff, 0xfe];
        let mut be = vec![0xfe, 0xff];
        for u in want.encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
            be.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(decode(&le).unwrap().0, want);
        assert_eq!(decode(&be).unwrap().1, "UTF-16BE");
        // And without their BOMs.
        assert_eq!(decode(&le[2..]).unwrap(), (want.to_string(), "UTF-16LE"));
        assert_eq!(decode(&be[2..]).unwrap(), (want.to_string(), "UTF-16BE"));
        // NFD UTF-8 (as some Mac tools write it) comes out NFC.
        let nfd: String = want.nfd().collect();
        assert_eq!(decode(nfd.as_bytes()).unwrap().0, want);
        // Windows-1258: "ủ" is u + combining hook above (0xD2), "Đ" is 0xD0.
        let cp1258 = b"Ch\x75\xd2 h\xf4\xf2";
        assert_eq!(decode(cp1258).unwrap(), ("Chủ hộ".into(), "windows-1258"));
        // A UTF-16 BOM on an odd number of bytes is broken.
        assert!(decode(&[0xff, 0xfe, 0x41]).is_none());
    }

    #[test]
    fn finds_the_separator_in_the_header_line() {
        assert_eq!(separator("a,b,c\n1;2;3;4;5"), b',');
        assert_eq!(separator("a;b;c\n"), b';');
        assert_eq!(separator("a\tb\n"), b'\t');
        assert_eq!(separator("\"a;b\",c\n"), b',');
        assert_eq!(separator("head\n"), b',');
    }
}
