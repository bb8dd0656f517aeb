"""The syslog receiver: listeners (UDP, TCP with RFC 6587 framing, TLS), sender filters, header
parsing (RFC 3164, RFC 5424, device quirks) and the conversion of a message into an `Event`."""
