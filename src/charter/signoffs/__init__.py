"""Sign-offs: reviewer decisions on a subject referred to by kind + id + digest, and separation-of-duties rules."""
