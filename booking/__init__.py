"""Sans-IO scheduling core: intervals, slot computation, weekly hours and RFC 5545 data.

Everything here is a pure function on frozen dataclasses and aware datetimes, with time zones
passed in explicitly: no database, no Flask, no network. Services and views call into it; it
never calls out.
"""
