"""`harness capture`: a pass-through proxy in front of the incumbent's API that writes each exchange
as a traffic log line (harness.capture.proxy serves, harness.capture.writer writes, in its own
process, off the request path)."""
