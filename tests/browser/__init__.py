"""Browser tests: the chat page in Debian's Chromium, driven by Playwright."""
