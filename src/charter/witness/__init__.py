"""A transparency-log witness (C2SP tlog-witness + tlog-cosignature): `charter witness serve`."""
