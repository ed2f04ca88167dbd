"""An organiser logs in through the OpenID provider's own login page in Chromium, and out again at both ends."""

import re

import pytest

pytestmark = pytest.mark.browser

#: the provider's development login page loads a web font: nothing leaves the machine
OFF_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")


def test_an_organiser_signs_in_at_the_provider_and_out_again(sso_live_server, page):
    page.route(OFF_LOOPBACK, lambda route: route.abort())
    provider = sso_live_server.provider
    page.goto(f"{sso_live_server.url}/people/")
    assert page.get_by_label("Password").count() == 1
    page.get_by_role("button", name="Sign in with Test IdP").click()
    page.wait_for_url(f"{provider.issuer}/interaction/**")
    page.locator("input[name=login]").fill("olivia")
    page.locator("input[name=password]").fill("anything")
    page.get_by_role("button", name="Sign-in").click()
    page.wait_for_url(f"{sso_live_server.url}/people/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{provider.issuer}/session/end**")
    page.get_by_role("button", name=re.compile("Yes")).click()
    page.wait_for_url(f"{sso_live_server.url}/auth/login**")
    page.goto(f"{sso_live_server.url}/people/")
    page.wait_for_url(f"{sso_live_server.url}/auth/login**")
    assert page.get_by_role("button", name="Sign in with Test IdP").is_visible()
