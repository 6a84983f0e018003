//! The one error type of the crate, and the small nom plumbing that produces it.

use nom::error::{ErrorKind, ParseError};

/// Why bytes could not be parsed.
///
/// [`Error::Incomplete`] means the bytes so far are a valid prefix and more are needed (only
/// the streaming entry points — records and handshake headers — return it); every other
/// case is [`Error::Malformed`], naming the RFC structure and field that was wrong.
///
/// ```
/// use helloscope_tls::{parse_record, Error};
/// // A handshake record header announcing 5 bytes, followed by 2.
/// let err = parse_record(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2]).unwrap_err();
/// assert_eq!(err, Error::Incomplete { needed: 3 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is a valid prefix; `needed` more bytes are required to go on.
    #[error("incomplete: {needed} more bytes needed")]
    Incomplete {
        /// How many more bytes are needed at least.
        needed: usize,
    },
    /// The input cannot be what it claims to be.
    #[error("malformed {structure}: {field}")]
    Malformed {
        /// The RFC structure being read, e.g. `ClientHello`.
        structure: &'static str,
        /// The field or rule that failed, e.g. `cipher_suites`.
        field: &'static str,
    },
}

/// The nom error used inside the crate: only the name of the field that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: &'static str,
}

impl<I> ParseError<I> for FieldError {
    fn from_error_kind(_input: I, _kind: ErrorKind) -> Self {
        FieldError { field: "" }
    }
    fn append(_input: I, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

pub(crate) type PResult<'a, T> = nom::IResult<&'a [u8], T, FieldError>;

/// Names the field a sub-parser reads, unless an inner parser already named it.
pub(crate) fn field<'a, T>(
    name: &'static str,
    mut p: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> impl FnMut(&'a [u8]) -> PResult<'a, T> {
    move |i| {
        p(i).map_err(|e| {
            e.map(|mut fe| {
                if fe.field.is_empty() {
                    fe.field = name;
                }
                fe
            })
        })
    }
}

/// A failure with a field name, for checks that are not nom parsers.
pub(crate) fn fail<T>(name: &'static str) -> PResult<'static, T> {
    Err(nom::Err::Error(FieldError { field: name }))
}

/// Turns a nom result over a complete message into the public error.
pub(crate) fn finish<T>(structure: &'static str, r: PResult<'_, T>) -> Result<T, Error> {
    match r {
        Ok((_, v)) => Ok(v),
        Err(nom::Err::Incomplete(_)) => Err(Error::Malformed {
            structure,
            field: "truncated",
        }),
        Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => Err(Error::Malformed {
            structure,
            field: if e.field.is_empty() {
                "truncated"
            } else {
                e.field
            },
        }),
    }
}

/// Reads a vector with a `u8` length prefix (RFC 8446 §3.4 `opaque x<0..2^8-1>`).
pub(crate) fn vec_u8(i: &[u8]) -> PResult<'_, &[u8]> {
    nom::multi::length_data(nom::number::complete::be_u8)(i)
}

/// Reads a vector with a `u16` length prefix (`opaque x<0..2^16-1>`).
pub(crate) fn vec_u16(i: &[u8]) -> PResult<'_, &[u8]> {
    nom::multi::length_data(nom::number::complete::be_u16)(i)
}
