//! The bit-set behaviour shared by each protocol's `Flags` (out-of-spec conditions on a PDU).

/// Implements `is_empty`, `contains`, `insert`, `names` and `|` for a `struct $name(u32)`
/// that defines its flags as associated constants and `NAMES`, the flags with their names in
/// the order `names` yields them.
macro_rules! flag_set {
    ($name:ident) => {
        impl $name {
            /// No flag set.
            pub fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// Whether every flag of `other` is set.
            pub fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }

            /// Sets the flags of `other`.
            pub fn insert(&mut self, other: $name) {
                self.0 |= other.0;
            }

            /// Names of the flags set, in a fixed order.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                $name::NAMES
                    .into_iter()
                    .filter(move |(f, _)| self.contains(*f))
                    .map(|(_, n)| n)
            }
        }

        impl std::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, o: $name) -> $name {
                $name(self.0 | o.0)
            }
        }
    };
}
