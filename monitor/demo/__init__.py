"""`parcelwatch demo` and the sample shop it seeds (also `parcelwatch sample`)."""
