"""Issue 12 item 13 in Chromium: the page works under its strict CSP and cannot be framed."""

from playwright.sync_api import expect

from tests.support.browser import message, send


def test_the_page_chats_under_its_csp_without_a_single_violation(open_chat):
    violations = []

    def watch(context):
        # every page of the context reports what the CSP refused, from its first script on
        context.add_init_script(
            "document.addEventListener('securitypolicyviolation', e =>"
            " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
        )
        context.on(
            "console",
            lambda msg: (
                violations.append(msg.text)
                if "CSP violation" in msg.text or "Content Security Policy" in msg.text
                else None
            ),
        )

    erin = open_chat("erin", setup=watch)
    frank = open_chat("frank", setup=watch)
    send(erin, "under a strict policy")
    expect(message(frank, "under a strict policy")).to_contain_text("erin")
    assert violations == []


def test_the_page_cannot_be_framed(browser, live):
    context = browser.new_context()
    try:
        page = context.new_page()
        refused = page.expect_console_message(
            lambda msg: "frame-ancestors" in msg.text or "X-Frame-Options" in msg.text,
            timeout=10_000,
        )
        with refused:
            page.set_content(f'<iframe src="{live.url}/auth/login" width="600"></iframe>')
        framed = [frame for frame in page.frames if frame != page.main_frame]
        assert framed
        # Chromium shows its error page instead of the form
        assert not framed[0].locator("input[name=username]").count()
    finally:
        context.close()
