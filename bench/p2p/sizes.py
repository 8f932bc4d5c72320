"""Message sizes: as the command line writes them and as the tables show them."""

UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
LAT_BYTES = 8


def parse_size(text):
    text = text.strip()
    return int(text[:-1]) * UNITS[text[-1].upper()] if text[-1].upper() in UNITS else int(text)


def size_name(size):
    for suffix, unit in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {suffix}"
    return f"{size} B"
