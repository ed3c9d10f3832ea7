//! Records as the plant's rules read them: an event or a flow record is written whole as a
//! JSON line for the outputs, but a rule names a few of its top-level fields, and reading
//! only those — straight from the structure, before any line is written — is what keeps
//! rules cheap on a busy protocol.

use serde::ser::{self, Impossible, Serialize};

use crate::message::Message;

/// An event or a flow record.
pub trait Record {
    /// The service whose rules read it: the event's protocol, or `flow`.
    fn service(&self) -> &'static str;
    /// Writes the whole record as one JSON object.
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;
    /// Appends to `out` the top-level fields named in `fields` that the record holds, in
    /// the record's order, each as the JSON its line would carry.
    fn pick(&self, fields: &Fields, out: &mut Picked) -> serde_json::Result<()>;
}

/// The fields a record's rules read, as dotted paths (`function`, `src.ip`,
/// `addresses.start`), grouped by their top-level name, with a quick filter on those names:
/// a name whose length and first letter no wanted name shares is passed over without
/// comparing it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// The paths as given.
    paths: Vec<String>,
    /// Their top-level names, each once.
    names: Vec<String>,
    /// Per top-level name, the names one level below it that the paths reach (`None`: a
    /// path names the whole value). Only those decide what a rule sees of it.
    subs: Vec<Option<Vec<String>>>,
    filter: u64,
    /// Whether a name is none of a [`Message`]'s: an event's own fields must be read too.
    beyond_message: bool,
    /// The names that are a [`Message`]'s fields: (index among the names, position in
    /// [`Message::FIELDS`]).
    message: Vec<(usize, u8)>,
}

impl Fields {
    /// These paths.
    pub fn new(paths: Vec<String>) -> Fields {
        let mut names: Vec<String> = Vec::new();
        let mut subs: Vec<Option<Vec<String>>> = Vec::new();
        for p in &paths {
            let mut parts = p.splitn(3, '.');
            let top = parts.next().unwrap_or_default();
            let i = match names.iter().position(|n| n == top) {
                Some(i) => i,
                None => {
                    names.push(top.to_string());
                    subs.push(Some(Vec::new()));
                    names.len() - 1
                }
            };
            let Some(slot) = subs.get_mut(i) else {
                continue;
            };
            match (parts.next(), slot.as_mut()) {
                (Some(sub), Some(list)) => {
                    if !list.iter().any(|n| n == sub) {
                        list.push(sub.to_string());
                    }
                }
                (None, _) => *slot = None,
                (Some(_), None) => {}
            }
        }
        let filter = names.iter().fold(0, |f, n| f | Fields::bit(n));
        let beyond_message = names.iter().any(|n| !Message::FIELDS.contains(&n.as_str()));
        let message = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let at = Message::FIELDS.iter().position(|f| f == n)?;
                Some((i, u8::try_from(at).ok()?))
            })
            .collect();
        Fields {
            paths,
            names,
            subs,
            filter,
            beyond_message,
            message,
        }
    }

    /// The names that are a [`Message`]'s fields: (index among the names, position in
    /// [`Message::FIELDS`]).
    pub fn message_fields(&self) -> impl Iterator<Item = (usize, u8)> + '_ {
        self.message.iter().copied()
    }

    /// Whether a name is none of a [`Message`]'s fields (the envelope of every event).
    pub fn beyond_message(&self) -> bool {
        self.beyond_message
    }

    /// The paths, as given.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The top-level names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The index of top-level `key` among the names.
    pub fn position(&self, key: &str) -> Option<usize> {
        if self.filter & Fields::bit(key) == 0 {
            return None;
        }
        self.names.iter().position(|n| n == key)
    }

    /// The names below top-level name `i` the paths reach (`None`: all of it).
    pub fn below(&self, i: usize) -> Option<&[String]> {
        self.subs.get(i).and_then(|s| s.as_deref())
    }

    fn bit(name: &str) -> u64 {
        let first = name.as_bytes().first().copied().unwrap_or(0);
        1 << ((name.len() * 7 + usize::from(first)) % 64)
    }
}

/// Picked fields: for each, its index in the list of names asked for and its value — as
/// JSON text, or (a key) in a compact encoding of the same. Two records with equal keys hold
/// equal values in those fields, so a key can stand for what the rules decided on the first
/// of them; the JSON is what the rules are given.
#[derive(Debug, Default, Clone)]
pub struct Picked {
    buf: Vec<u8>,
    key: bool,
}

impl Picked {
    /// Fields as JSON text ([`Picked::fields`]).
    pub fn json() -> Picked {
        Picked::default()
    }

    /// Fields in the key encoding: only [`Picked::as_bytes`] is of use.
    pub fn key() -> Picked {
        Picked {
            buf: Vec::new(),
            key: true,
        }
    }

    /// Forgets every field.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// The encoded fields: (index `u16`, length `u32`, JSON) each, little-endian.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Appends field `index` with `value` (its JSON, or its key encoding).
    pub fn push<T: Serialize + ?Sized>(
        &mut self,
        index: usize,
        value: &T,
    ) -> serde_json::Result<()> {
        self.push_below(index, value, None)
    }

    /// [`Picked::push`]; in a key, of an object (or of each object of a list) only the
    /// fields named in `below` when given: the rules read no other.
    pub fn push_below<T: Serialize + ?Sized>(
        &mut self,
        index: usize,
        value: &T,
        below: Option<&[String]>,
    ) -> serde_json::Result<()> {
        let index = u16::try_from(index).map_err(|_| ser::Error::custom("too many fields"))?;
        self.buf.extend_from_slice(&index.to_le_bytes());
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        if self.key {
            value.serialize(&mut KeyWriter {
                out: &mut self.buf,
                below,
                depth: 0,
            })?;
        } else {
            serde_json::to_writer(&mut self.buf, value)?;
        }
        let len = u32::try_from(self.buf.len() - at - 4)
            .map_err(|_| ser::Error::custom("field too long"))?;
        if let Some(slot) = self.buf.get_mut(at..at + 4) {
            slot.copy_from_slice(&len.to_le_bytes());
        }
        Ok(())
    }

    /// The fields: index in the names asked for, and JSON text.
    pub fn fields(&self) -> impl Iterator<Item = (usize, &str)> + '_ {
        let mut rest = self.buf.as_slice();
        std::iter::from_fn(move || {
            let (index, tail) = rest.split_first_chunk::<2>()?;
            let (len, tail) = tail.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            let json = tail.get(..len)?;
            rest = tail.get(len..)?;
            let json = std::str::from_utf8(json).ok()?;
            Some((usize::from(u16::from_le_bytes(*index)), json))
        })
    }
}

/// Appends the top-level fields of `value` (a struct or map) named in `fields` to `out`;
/// the other fields are passed over without being serialized.
pub fn pick_fields<T: Serialize + ?Sized>(
    value: &T,
    fields: &Fields,
    out: &mut Picked,
) -> serde_json::Result<()> {
    value.serialize(&mut Picker {
        fields,
        out,
        pending: None,
    })
}

/// A [`Record`] of any serializable value (a flow record).
pub struct Serialized<'a, T: ?Sized> {
    /// Its service.
    pub service: &'static str,
    /// The value.
    pub value: &'a T,
}

impl<T: Serialize + ?Sized> Record for Serialized<'_, T> {
    fn service(&self) -> &'static str {
        self.service
    }
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, self.value)
    }
    fn pick(&self, fields: &Fields, out: &mut Picked) -> serde_json::Result<()> {
        pick_fields(self.value, fields, out)
    }
}

/// The serializer behind [`pick_fields`]: only a struct's or map's fields are looked at.
struct Picker<'a> {
    fields: &'a Fields,
    out: &'a mut Picked,
    /// The index of the map key just seen, when it is one asked for.
    pending: Option<usize>,
}

impl Picker<'_> {
    fn wanted(&self, key: &str) -> Option<usize> {
        self.fields.position(key)
    }
}

fn not_an_object() -> serde_json::Error {
    ser::Error::custom("a record is a JSON object")
}

/// Nothing to pick in a value that is not an object.
macro_rules! nothing {
    ($($name:ident: $t:ty),* $(,)?) => {
        $(fn $name(self, _: $t) -> serde_json::Result<()> { Ok(()) })*
    };
}

impl ser::Serializer for &mut Picker<'_> {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = Impossible<(), serde_json::Error>;
    type SerializeTuple = Impossible<(), serde_json::Error>;
    type SerializeTupleStruct = Impossible<(), serde_json::Error>;
    type SerializeTupleVariant = Impossible<(), serde_json::Error>;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), serde_json::Error>;

    nothing!(
        serialize_bool: bool,
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_f32: f32,
        serialize_f64: f64,
        serialize_char: char,
        serialize_str: &str,
        serialize_bytes: &[u8],
        serialize_unit_struct: &'static str,
    );

    fn serialize_none(self) -> serde_json::Result<()> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> serde_json::Result<()> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> serde_json::Result<()> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> serde_json::Result<()> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> serde_json::Result<()> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> serde_json::Result<()> {
        Err(not_an_object())
    }
    fn serialize_seq(self, _: Option<usize>) -> serde_json::Result<Self::SerializeSeq> {
        Err(not_an_object())
    }
    fn serialize_tuple(self, _: usize) -> serde_json::Result<Self::SerializeTuple> {
        Err(not_an_object())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeTupleStruct> {
        Err(not_an_object())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeTupleVariant> {
        Err(not_an_object())
    }
    fn serialize_map(self, _: Option<usize>) -> serde_json::Result<Self> {
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> serde_json::Result<Self> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeStructVariant> {
        Err(not_an_object())
    }
}

impl ser::SerializeStruct for &mut Picker<'_> {
    type Ok = ();
    type Error = serde_json::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> serde_json::Result<()> {
        match self.wanted(key) {
            Some(i) => self.out.push_below(i, value, self.fields.below(i)),
            None => Ok(()),
        }
    }
    fn end(self) -> serde_json::Result<()> {
        Ok(())
    }
}

impl ser::SerializeMap for &mut Picker<'_> {
    type Ok = ();
    type Error = serde_json::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> serde_json::Result<()> {
        self.pending = key.serialize(KeyName(self.fields))?;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> serde_json::Result<()> {
        match self.pending.take() {
            Some(i) => self.out.push_below(i, value, self.fields.below(i)),
            None => Ok(()),
        }
    }
    fn end(self) -> serde_json::Result<()> {
        Ok(())
    }
}

/// A map key's index among the fields asked for: keys of records are names (a flattened
/// struct's fields come as map entries), compared where they are, without being written out.
struct KeyName<'a>(&'a Fields);

/// Not a name: no field of a record.
macro_rules! unnamed {
    ($($name:ident: $t:ty),* $(,)?) => {
        $(fn $name(self, _: $t) -> serde_json::Result<Option<usize>> { Ok(None) })*
    };
}

/// A number as a key: JSON writes it as its digits in quotes.
macro_rules! numbered {
    ($($name:ident: $t:ty),* $(,)?) => {
        $(fn $name(self, v: $t) -> serde_json::Result<Option<usize>> {
            self.serialize_str(&v.to_string())
        })*
    };
}

impl ser::Serializer for KeyName<'_> {
    type Ok = Option<usize>;
    type Error = serde_json::Error;
    type SerializeSeq = Impossible<Option<usize>, serde_json::Error>;
    type SerializeTuple = Impossible<Option<usize>, serde_json::Error>;
    type SerializeTupleStruct = Impossible<Option<usize>, serde_json::Error>;
    type SerializeTupleVariant = Impossible<Option<usize>, serde_json::Error>;
    type SerializeMap = Impossible<Option<usize>, serde_json::Error>;
    type SerializeStruct = Impossible<Option<usize>, serde_json::Error>;
    type SerializeStructVariant = Impossible<Option<usize>, serde_json::Error>;

    numbered!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
    );
    unnamed!(
        serialize_bool: bool,
        serialize_f32: f32,
        serialize_f64: f64,
        serialize_bytes: &[u8],
        serialize_unit_struct: &'static str,
    );

    fn serialize_char(self, c: char) -> serde_json::Result<Option<usize>> {
        self.serialize_str(c.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, name: &str) -> serde_json::Result<Option<usize>> {
        Ok(self.0.position(name))
    }
    fn serialize_none(self) -> serde_json::Result<Option<usize>> {
        Ok(None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> serde_json::Result<Option<usize>> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> serde_json::Result<Option<usize>> {
        Ok(None)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> serde_json::Result<Option<usize>> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> serde_json::Result<Option<usize>> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> serde_json::Result<Option<usize>> {
        Ok(None)
    }
    fn serialize_seq(self, _: Option<usize>) -> serde_json::Result<Self::SerializeSeq> {
        Err(ser::Error::custom("a key is a name"))
    }
    fn serialize_tuple(self, _: usize) -> serde_json::Result<Self::SerializeTuple> {
        Err(ser::Error::custom("a key is a name"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeTupleStruct> {
        Err(ser::Error::custom("a key is a name"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeTupleVariant> {
        Err(ser::Error::custom("a key is a name"))
    }
    fn serialize_map(self, _: Option<usize>) -> serde_json::Result<Self::SerializeMap> {
        Err(ser::Error::custom("a key is a name"))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeStruct> {
        Err(ser::Error::custom("a key is a name"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeStructVariant> {
        Err(ser::Error::custom("a key is a name"))
    }
}

/// The serializer behind [`Picked::push`] in key mode: a compact encoding of everything the
/// JSON writer would be told (names of fields and variants, values, where lists and objects
/// begin and end), so that equal encodings mean equal JSON (numbers of different widths
/// differ, which only costs a second entry); addresses are taken in their binary form and
/// strings are not escaped, which is what makes it cheaper than the JSON.
struct KeyWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Of the first objects met (the value, or the elements of a list), only these fields.
    below: Option<&'a [String]>,
    /// Objects entered and not yet ended.
    depth: u32,
}

/// Tags of the encoding (one per kind of serializer call).
mod tag {
    pub const BOOL: u8 = 1;
    pub const INT: u8 = 2;
    pub const UINT: u8 = 3;
    pub const U8: u8 = 17;
    pub const U16: u8 = 18;
    pub const U32: u8 = 19;
    pub const FLOAT: u8 = 4;
    pub const CHAR: u8 = 5;
    pub const STR: u8 = 6;
    pub const BYTES: u8 = 7;
    pub const NONE: u8 = 8;
    pub const SOME: u8 = 9;
    pub const UNIT: u8 = 10;
    pub const VARIANT: u8 = 11;
    pub const SEQ: u8 = 12;
    pub const MAP: u8 = 13;
    pub const FIELD: u8 = 14;
    pub const END: u8 = 15;
    pub const SKIP: u8 = 16;
}

impl KeyWriter<'_> {
    /// A tag, a length and bytes (the length in 1 byte when under 255, else 255 and 8).
    fn text(&mut self, t: u8, s: &[u8]) {
        self.out.push(t);
        match u8::try_from(s.len()) {
            Ok(n) if n < u8::MAX => self.out.push(n),
            _ => {
                self.out.push(u8::MAX);
                self.out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            }
        }
        self.out.extend_from_slice(s);
    }
    fn variant(&mut self, name: &str) {
        self.text(tag::VARIANT, name.as_bytes());
    }
    /// A list or object begins.
    fn open(&mut self, t: u8) -> serde_json::Result<&mut Self> {
        self.out.push(t);
        if t == tag::MAP {
            self.depth += 1;
        }
        Ok(self)
    }

    /// An object ends.
    fn close(&mut self) -> serde_json::Result<()> {
        self.out.push(tag::END);
        self.depth = self.depth.saturating_sub(1);
        Ok(())
    }

    /// Whether a field of the object being written is left out (not among `below`).
    fn passed_over(&self, key: &str) -> bool {
        self.depth == 1 && self.below.is_some_and(|b| !b.iter().any(|n| n == key))
    }
}

impl ser::Serializer for &mut KeyWriter<'_> {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn is_human_readable(&self) -> bool {
        // Binary forms of addresses and the like: as exact as their text, cheaper to make.
        false
    }
    fn serialize_bool(self, v: bool) -> serde_json::Result<()> {
        self.out.extend_from_slice(&[tag::BOOL, u8::from(v)]);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> serde_json::Result<()> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> serde_json::Result<()> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> serde_json::Result<()> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> serde_json::Result<()> {
        self.out.push(tag::INT);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> serde_json::Result<()> {
        self.out.push(tag::INT);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> serde_json::Result<()> {
        self.out.extend_from_slice(&[tag::U8, v]);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> serde_json::Result<()> {
        self.out.push(tag::U16);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> serde_json::Result<()> {
        self.out.push(tag::U32);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> serde_json::Result<()> {
        self.out.push(tag::UINT);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> serde_json::Result<()> {
        self.out.push(tag::UINT);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> serde_json::Result<()> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> serde_json::Result<()> {
        self.out.push(tag::FLOAT);
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> serde_json::Result<()> {
        self.out.push(tag::CHAR);
        self.out.extend_from_slice(&u32::from(v).to_le_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> serde_json::Result<()> {
        self.text(tag::STR, v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> serde_json::Result<()> {
        self.text(tag::BYTES, v);
        Ok(())
    }
    fn serialize_none(self) -> serde_json::Result<()> {
        self.out.push(tag::NONE);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> serde_json::Result<()> {
        self.out.push(tag::SOME);
        v.serialize(self)
    }
    fn serialize_unit(self) -> serde_json::Result<()> {
        self.out.push(tag::UNIT);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> serde_json::Result<()> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> serde_json::Result<()> {
        self.variant(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> serde_json::Result<()> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> serde_json::Result<()> {
        self.variant(variant);
        v.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> serde_json::Result<Self> {
        self.open(tag::SEQ)
    }
    fn serialize_tuple(self, _: usize) -> serde_json::Result<Self> {
        self.open(tag::SEQ)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> serde_json::Result<Self> {
        self.open(tag::SEQ)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> serde_json::Result<Self> {
        self.variant(variant);
        self.open(tag::SEQ)
    }
    fn serialize_map(self, _: Option<usize>) -> serde_json::Result<Self> {
        self.open(tag::MAP)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> serde_json::Result<Self> {
        self.open(tag::MAP)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> serde_json::Result<Self> {
        self.variant(variant);
        self.open(tag::MAP)
    }
}

/// Lists, tuples and objects: each element after the previous, then an end tag.
macro_rules! key_compound {
    ($($trait:ident :: $method:ident),* $(,)?) => {
        $(impl ser::$trait for &mut KeyWriter<'_> {
            type Ok = ();
            type Error = serde_json::Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> serde_json::Result<()> {
                v.serialize(&mut **self)
            }
            fn end(self) -> serde_json::Result<()> {
                self.out.push(tag::END);
                Ok(())
            }
        })*
    };
}

key_compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for &mut KeyWriter<'_> {
    type Ok = ();
    type Error = serde_json::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> serde_json::Result<()> {
        k.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> serde_json::Result<()> {
        v.serialize(&mut **self)
    }
    fn end(self) -> serde_json::Result<()> {
        self.close()
    }
}

/// Objects: each field's name and value.
macro_rules! key_struct {
    ($($trait:ident),* $(,)?) => {
        $(impl ser::$trait for &mut KeyWriter<'_> {
            type Ok = ();
            type Error = serde_json::Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> serde_json::Result<()> {
                if self.passed_over(key) {
                    return Ok(());
                }
                self.text(tag::FIELD, key.as_bytes());
                v.serialize(&mut **self)
            }
            fn skip_field(&mut self, key: &'static str) -> serde_json::Result<()> {
                // A skipped field writes nothing in JSON either; marked all the same, so
                // that the encoding follows the calls one for one.
                if !self.passed_over(key) {
                    self.text(tag::SKIP, key.as_bytes());
                }
                Ok(())
            }
            fn end(self) -> serde_json::Result<()> {
                self.close()
            }
        })*
    };
}

key_struct!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(serde::Serialize)]
    struct Inner {
        ip: &'static str,
        port: u16,
    }

    #[derive(serde::Serialize)]
    struct Rec {
        function: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        unit: Option<u8>,
        src: Inner,
        addresses: Vec<u16>,
        #[serde(flatten)]
        more: BTreeMap<String, u32>,
    }

    fn names(n: &[&str]) -> Fields {
        Fields::new(n.iter().map(|s| s.to_string()).collect())
    }

    fn picked(r: &Rec, fields: &Fields) -> Vec<(usize, String)> {
        let mut out = Picked::default();
        pick_fields(r, fields, &mut out).unwrap();
        out.fields().map(|(i, j)| (i, j.to_string())).collect()
    }

    fn rec(unit: Option<u8>) -> Rec {
        Rec {
            function: "write_\"x\"",
            unit,
            src: Inner {
                ip: "10.0.0.1",
                port: 502,
            },
            addresses: vec![1, 2],
            more: BTreeMap::from([("extra".to_string(), 7)]),
        }
    }

    #[test]
    fn picks_named_fields_as_their_line_writes_them() {
        let r = rec(Some(3));
        let fields = names(&["addresses", "src", "extra", "missing", "function"]);
        let got = picked(&r, &fields);
        assert_eq!(
            got,
            vec![
                (4, r#""write_\"x\"""#.to_string()),
                (1, r#"{"ip":"10.0.0.1","port":502}"#.to_string()),
                (0, "[1,2]".to_string()),
                (2, "7".to_string()),
            ]
        );
        // Each is what the whole line holds under that name.
        let line: serde_json::Value = serde_json::to_value(&r).unwrap();
        for (i, json) in got {
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(line[&fields.names()[i]], v);
        }
    }

    #[test]
    fn an_absent_field_is_not_picked_and_changes_the_key() {
        let fields = names(&["unit", "function"]);
        assert_eq!(picked(&rec(None), &fields).len(), 1);
        let key = |r: &Rec| {
            let mut out = Picked::default();
            pick_fields(r, &fields, &mut out).unwrap();
            out.as_bytes().to_vec()
        };
        assert_ne!(key(&rec(None)), key(&rec(Some(0))));
        assert_eq!(key(&rec(Some(0))), key(&rec(Some(0))));
    }

    #[test]
    fn keys_are_equal_when_the_json_is() {
        #[derive(serde::Serialize)]
        enum Kind {
            A,
            B(u8),
        }
        #[derive(serde::Serialize)]
        struct Two {
            #[serde(skip_serializing_if = "Option::is_none")]
            a: Option<u8>,
            #[serde(skip_serializing_if = "Option::is_none")]
            b: Option<u8>,
            ip: std::net::IpAddr,
            kind: Kind,
            list: Vec<&'static str>,
        }
        let fields = names(&["v"]);
        let both = |v: &Two| {
            let mut key = Picked::key();
            key.push(0, v).unwrap();
            let mut json = Picked::json();
            pick_fields(&serde_json::json!({ "v": v }), &fields, &mut json).unwrap();
            (key.as_bytes().to_vec(), json.as_bytes().to_vec())
        };
        let make = |a, b, ip: &str, kind, list: Vec<&'static str>| Two {
            a,
            b,
            ip: ip.parse().unwrap(),
            kind,
            list,
        };
        let values = [
            make(Some(3), None, "10.0.0.1", Kind::A, vec![]),
            make(None, Some(3), "10.0.0.1", Kind::A, vec![]),
            make(None, Some(3), "10.0.0.2", Kind::A, vec![]),
            make(None, Some(3), "::1", Kind::A, vec![]),
            make(None, Some(3), "::1", Kind::B(0), vec![]),
            make(None, Some(3), "::1", Kind::B(1), vec![]),
            make(None, Some(3), "::1", Kind::B(1), vec!["a", "b"]),
            make(None, Some(3), "::1", Kind::B(1), vec!["ab"]),
            make(None, Some(3), "::1", Kind::B(1), vec!["ab"]),
        ];
        for x in &values {
            for y in &values {
                let (kx, jx) = both(x);
                let (ky, jy) = both(y);
                assert_eq!(kx == ky, jx == jy);
            }
        }
    }

    #[test]
    fn a_key_holds_only_the_named_fields_below_the_top() {
        // `src.ip` and `addresses.start`: a record differing only in its port or an
        // address's count has the same key, one differing in an ip or a start another.
        #[derive(serde::Serialize)]
        struct Addr {
            start: u16,
            count: u16,
        }
        #[derive(serde::Serialize)]
        struct R {
            src: Inner,
            addresses: Vec<Addr>,
        }
        let fields = names(&["src.ip", "addresses.start", "addresses.start"]);
        assert_eq!(fields.names(), ["src", "addresses"]);
        assert_eq!(fields.below(0), Some(&["ip".to_string()][..]));
        let key = |ip: &'static str, port: u16, start: u16, count: u16| {
            let r = R {
                src: Inner { ip, port },
                addresses: vec![Addr { start, count }],
            };
            let mut k = Picked::key();
            pick_fields(&r, &fields, &mut k).unwrap();
            k.as_bytes().to_vec()
        };
        assert_eq!(key("10.0.0.1", 1, 5, 1), key("10.0.0.1", 2, 5, 9));
        assert_ne!(key("10.0.0.1", 1, 5, 1), key("10.0.0.2", 1, 5, 1));
        assert_ne!(key("10.0.0.1", 1, 5, 1), key("10.0.0.1", 1, 6, 1));
        // A path naming the whole value keeps all of it; JSON picks are always whole.
        let whole = names(&["src.ip", "src"]);
        assert_eq!(whole.below(0), None);
        let r = R {
            src: Inner {
                ip: "10.0.0.1",
                port: 7,
            },
            addresses: vec![],
        };
        let mut j = Picked::json();
        pick_fields(&r, &fields, &mut j).unwrap();
        let got: Vec<(usize, String)> = j.fields().map(|(i, s)| (i, s.to_string())).collect();
        assert_eq!(got[0], (0, r#"{"ip":"10.0.0.1","port":7}"#.to_string()));
    }

    #[test]
    fn a_value_that_is_not_an_object_holds_nothing_or_is_refused() {
        let mut out = Picked::default();
        pick_fields(&5u8, &names(&["x"]), &mut out).unwrap();
        assert!(out.as_bytes().is_empty());
        assert!(pick_fields(&vec![1u8], &names(&["x"]), &mut out).is_err());
    }
}
