//! Messages put together from pieces. Slice concatenation would do, but it carries its own
//! overflow checks and panic text into the module; this is all a message needs.

use alloc::string::String;

/// The pieces, one after the other.
pub fn cat(pieces: &[&str]) -> String {
    let mut text = String::new();
    for piece in pieces {
        text.push_str(piece);
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn pieces_are_joined_in_order() {
        assert_eq!(
            super::cat(&["signup ", "e1", " delivered"]),
            "signup e1 delivered"
        );
        assert_eq!(super::cat(&[]), "");
    }
}
