"""Check one iCalendar object from stdin with libical: parse errors plus the iTIP (RFC 5546) restriction check.

Run by Debian's /usr/bin/python3 (python3-gi, gir1.2-ical-3.0). Prints one line per problem.
Exit status: 0 valid, 1 problems found, 2 not parseable, 3 libical binding missing.
"""

import sys

try:
    import gi

    gi.require_version("ICalGLib", "3.0")
    from gi.repository import ICalGLib
except (ImportError, ValueError) as missing:
    print(f"libical GObject binding unavailable: {missing}")
    sys.exit(3)


def problems(component) -> list[str]:
    """Return the X-LIC-ERROR texts libical attached to a component and its subcomponents."""
    found = []
    error = component.get_first_property(ICalGLib.PropertyKind.XLICERROR_PROPERTY)
    while error is not None:
        found.append(f"{ICalGLib.Component.kind_to_string(component.isa())}: {error.get_xlicerror()}")
        error = component.get_next_property(ICalGLib.PropertyKind.XLICERROR_PROPERTY)
    child = component.get_first_component(ICalGLib.ComponentKind.ANY_COMPONENT)
    while child is not None:
        found += problems(child)
        child = component.get_next_component(ICalGLib.ComponentKind.ANY_COMPONENT)
    return found


def main() -> int:
    """Parse stdin, run the restriction check, report what libical complains about."""
    try:
        calendar = ICalGLib.Component.new_from_string(sys.stdin.read())
    except TypeError:  # the binding raises when libical returns no component
        calendar = None
    if calendar is None or calendar.isa() != ICalGLib.ComponentKind.VCALENDAR_COMPONENT:
        print("not parseable as one VCALENDAR")
        return 2
    calendar.check_restrictions()
    found = problems(calendar)
    print("\n".join(found) or "ok")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
