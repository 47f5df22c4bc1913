//! The invite as a QR code, drawn one way for every place it is shown: the
//! Thị xã page's SVG, `danvan invite --qr` on a terminal and `--qr-out`
//! (SVG or PNG). The code is made from the invite's bytes only.

use qrcode::render::unicode::Dense1x2;
use qrcode::{Color, EcLevel};

pub use qrcode::QrCode;

pub use qrcode::types::QrError;

/// The light border around the code, in modules, that scanners need.
pub const QUIET_ZONE: usize = 4;
/// Pixels per module in a PNG: 8 makes a typical invite about 600 px wide.
const PNG_SCALE: usize = 8;

/// The QR code of `text` (error correction M, as the web page draws it).
pub fn code(text: &str) -> Result<QrCode, QrError> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
}

/// The code with its quiet zone as rows of modules, `true` for dark.
pub fn modules(code: &QrCode) -> Vec<Vec<bool>> {
    let width = code.width();
    let side = width + 2 * QUIET_ZONE;
    let colors = code.to_colors();
    (0..side)
        .map(|y| {
            (0..side)
                .map(|x| {
                    let inside = |v: usize| (QUIET_ZONE..QUIET_ZONE + width).contains(&v);
                    inside(x)
                        && inside(y)
                        && colors[(y - QUIET_ZONE) * width + x - QUIET_ZONE] == Color::Dark
                })
                .collect()
        })
        .collect()
}

/// The code as an SVG image at least 240 px wide.
pub fn svg(code: &QrCode) -> String {
    code.render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build()
}

/// The code for a terminal, two modules per character (`▀`, `▄`, `█`,
/// space). Terminals are mostly light text on a dark background (the
/// Windows console, most Linux ones), so the light modules and the quiet
/// zone are the drawn ones, as `qrencode -t UTF8` does.
pub fn terminal(code: &QrCode) -> String {
    code.render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build()
}

/// Reads a [`terminal`] drawing back into rows of modules (`true` for
/// dark): what a scanner sees, for tests.
pub fn terminal_modules(drawing: &str) -> Vec<Vec<bool>> {
    let mut rows = Vec::new();
    for line in drawing.lines() {
        let (top, bottom): (Vec<bool>, Vec<bool>) = line
            .chars()
            .map(|c| match c {
                '█' => (false, false),
                '▀' => (false, true),
                '▄' => (true, false),
                _ => (true, true),
            })
            .unzip();
        rows.push(top);
        rows.push(bottom);
    }
    rows
}

/// The code as a greyscale PNG, black on white.
pub fn png(code: &QrCode) -> Result<Vec<u8>, png::EncodingError> {
    let modules = modules(code);
    let side = modules.len() * PNG_SCALE;
    let mut pixels = Vec::with_capacity(side * side);
    for row in &modules {
        let line: Vec<u8> = row
            .iter()
            .flat_map(|&dark| std::iter::repeat_n(if dark { 0 } else { 255 }, PNG_SCALE))
            .collect();
        for _ in 0..PNG_SCALE {
            pixels.extend_from_slice(&line);
        }
    }
    let mut out = Vec::new();
    let side = u32::try_from(side).unwrap_or(u32::MAX);
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "dvmoi1-aaaabbbbccccddddeeeeffffgggghhhhiiiijjjjkkkkllllmmmmnnnnoooopppp";

    #[test]
    fn the_terminal_drawing_reads_back_as_the_codes_modules() {
        let code = code(INVITE).unwrap();
        let expected = modules(&code);
        let mut read = terminal_modules(&terminal(&code));
        // An odd number of rows leaves a half line of quiet zone below.
        read.truncate(expected.len());
        assert_eq!(read, expected);
        // A change of one byte changes the drawing.
        let other = terminal(&super::code(&INVITE.replace('a', "b")).unwrap());
        assert_ne!(terminal_modules(&other)[..expected.len()], expected[..]);
    }

    #[test]
    fn the_png_is_the_modules_scaled() {
        let code = code(INVITE).unwrap();
        let bytes = png(&code).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let modules = modules(&code);
        assert_eq!(info.width as usize, modules.len() * PNG_SCALE);
        for (y, row) in modules.iter().enumerate() {
            for (x, &dark) in row.iter().enumerate() {
                let px = buf[(y * PNG_SCALE + 3) * info.width as usize + x * PNG_SCALE + 3];
                assert_eq!(px == 0, dark, "module {x},{y}");
            }
        }
    }
}
