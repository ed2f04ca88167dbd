"""SMTP transport against a real aiosmtpd server on loopback, mailbox transport, retry schedule."""

import email.policy
import socket
from datetime import timedelta
from email.message import EmailMessage

import pytest

from planner.mail import (
    MailboxTransport,
    MailConfigError,
    PermanentMailError,
    SMTPSettings,
    SMTPTransport,
    TemporaryMailError,
    retry_delay,
    transport_from_config,
)
from tests.smtp_server import CAN_MAKE_CERTIFICATES, SMTPServer, free_port

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
needs_certificate = pytest.mark.skipif(
    not CAN_MAKE_CERTIFICATES, reason="the openssl binary is needed for a test certificate"
)


def invitation(number: int = 1) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "planner@example.org"
    message["To"] = f"person{number}@example.org"
    message["Subject"] = f"Invitation {number}"
    message["Date"] = "Thu, 26 Nov 2026 04:30:00 +0000"
    message["Message-ID"] = f"<invite-{number}@planner.example.org>"
    message.set_content(f"You are invited ({number}).")
    return message


def send(transport, message: EmailMessage) -> None:
    transport.send(message, sender="planner@example.org", recipients=[message["To"]])


def settings_for(server: SMTPServer, **overrides) -> SMTPSettings:
    return SMTPSettings(host=server.host, port=server.port, timeout=5, **overrides)


@pytest.fixture
def server():
    with SMTPServer() as running:
        yield running


def test_batch_reuses_one_connection_and_keeps_message_ids(server):
    with SMTPTransport(settings_for(server)) as transport:
        for number in range(1, 6):
            send(transport, invitation(number))
    assert server.connections == 1
    assert [m.message["Message-ID"] for m in server.messages] == [
        f"<invite-{n}@planner.example.org>" for n in range(1, 6)
    ]
    assert server.messages[0].recipients == ["person1@example.org"]


def test_finished_bytes_are_sent_unchanged(server):
    raw = invitation(7).as_bytes(policy=email.policy.SMTP)
    SMTPTransport(settings_for(server)).send(raw, sender="planner@example.org", recipients=["x@example.org"])
    assert server.messages[0].data == raw


def test_non_ascii_addresses_use_smtputf8(server):
    send_to = ["zoë@exämple.org"]
    SMTPTransport(settings_for(server)).send(invitation(), sender="planner@example.org", recipients=send_to)
    assert server.messages[0].recipients == send_to


def test_send_outside_a_batch_uses_its_own_connection(server):
    transport = SMTPTransport(settings_for(server))
    send(transport, invitation(1))
    send(transport, invitation(2))
    assert server.connections == 2
    assert len(server.messages) == 2


def test_server_down_is_temporary():
    transport = SMTPTransport(SMTPSettings(host="127.0.0.1", port=free_port(), timeout=5))
    with pytest.raises(TemporaryMailError, match="refused"):
        send(transport, invitation())


def test_server_stopped_mid_batch_is_temporary(server):
    with SMTPTransport(settings_for(server)) as transport:
        send(transport, invitation(1))
        server.stop()
        with pytest.raises(TemporaryMailError):
            send(transport, invitation(2))
        server.start()
        send(transport, invitation(3))
    assert [m.message["Subject"] for m in server.messages] == ["Invitation 1", "Invitation 3"]


def test_silent_server_times_out_as_temporary():
    with socket.create_server(("127.0.0.1", 0)) as silent:   # accepts, never greets
        settings = SMTPSettings(host="127.0.0.1", port=silent.getsockname()[1], timeout=0.3)
        with pytest.raises(TemporaryMailError, match="timed out"):
            send(SMTPTransport(settings), invitation())


@pytest.mark.parametrize("security", ["plain", pytest.param("starttls", marks=needs_certificate),
                                      pytest.param("tls", marks=needs_certificate)])
def test_connection_dropped_between_messages_reconnects_once(security):
    with SMTPServer(security=security) as server:
        server.drop_after(2)
        ca_file = server.certificate.cert_file if server.certificate else None
        settings = settings_for(server, security=security, ca_file=ca_file)
        with SMTPTransport(settings) as transport:
            for number in range(1, 5):
                send(transport, invitation(number))
        assert len(server.messages) == 4
        assert server.connections == 2


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA"])
@pytest.mark.parametrize("code", [421, 451])
def test_4xx_replies_are_temporary(server, code, stage):
    server.fail_next(1, code, stage=stage)
    with SMTPTransport(settings_for(server)) as transport:
        with pytest.raises(TemporaryMailError, match=str(code)):
            send(transport, invitation(1))
        send(transport, invitation(2))
    assert [m.message["Subject"] for m in server.messages] == ["Invitation 2"]


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA"])
def test_550_is_permanent_and_the_connection_goes_on(server, stage):
    server.fail_next(1, 550, stage=stage)
    with SMTPTransport(settings_for(server)) as transport:
        with pytest.raises(PermanentMailError, match="550"):
            send(transport, invitation(1))
        send(transport, invitation(2))
    assert len(server.messages) == 1
    assert server.connections == 1


def test_one_refused_recipient_of_two_is_reported_without_retry(server):
    server.fail_next(1, 550, stage="RCPT")
    with pytest.raises(PermanentMailError, match="delivered, but refused for a@example.org: 550"):
        SMTPTransport(settings_for(server)).send(
            invitation(), sender="planner@example.org", recipients=["a@example.org", "b@example.org"]
        )
    assert server.messages[0].recipients == ["b@example.org"]


def test_auth_success():
    with SMTPServer(auth=("planner", "s3cret")) as server:
        send(SMTPTransport(settings_for(server, username="planner", password="s3cret")), invitation())
        assert len(server.messages) == 1


def test_auth_failure_is_a_clear_config_error():
    with SMTPServer(auth=("planner", "s3cret")) as server:
        transport = SMTPTransport(settings_for(server, username="planner", password="wrong"))
        with pytest.raises(MailConfigError, match=r"SMTP login refused for user 'planner': 535"):
            send(transport, invitation())
        assert server.messages == []


def test_missing_login_is_a_config_error():
    with SMTPServer(auth=("planner", "s3cret")) as server:
        with pytest.raises(MailConfigError, match="requires login"):
            send(SMTPTransport(settings_for(server)), invitation())


@needs_certificate
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_self_signed_certificate_is_refused_by_default(security):
    with SMTPServer(security=security) as server:
        with pytest.raises(MailConfigError, match="SMTP_CA_FILE.*SMTP_VERIFY"):
            send(SMTPTransport(settings_for(server, security=security)), invitation())
        assert server.messages == []


@needs_certificate
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_with_ca_file_and_with_verification_off(security):
    with SMTPServer(security=security, auth=("planner", "s3cret")) as server:
        login = {"security": security, "username": "planner", "password": "s3cret"}
        trusted = settings_for(server, ca_file=server.certificate.cert_file, **login)
        with SMTPTransport(trusted) as transport:
            send(transport, invitation(1))
            send(transport, invitation(2))
        send(SMTPTransport(settings_for(server, verify=False, **login)), invitation(3))
        assert len(server.messages) == 3
        assert server.connections == 2


@needs_certificate
def test_starttls_required_by_server_but_not_configured():
    with SMTPServer(security="starttls") as server:
        with pytest.raises(MailConfigError, match="STARTTLS"):
            send(SMTPTransport(settings_for(server)), invitation())


def test_implicit_tls_against_a_plain_server_is_a_config_error(server):
    with pytest.raises(MailConfigError, match="SMTP_SECURITY"):
        send(SMTPTransport(settings_for(server, security="tls")), invitation())


def test_bad_ca_file_is_a_config_error(server, tmp_path):
    settings = settings_for(server, security="starttls", ca_file=str(tmp_path / "missing.pem"))
    with pytest.raises(MailConfigError, match="SMTP_CA_FILE"):
        send(SMTPTransport(settings), invitation())


@pytest.mark.parametrize(
    "changes", [{"security": "ssl"}, {"port": 0}, {"timeout": 0}, {"password": "no user"}]
)
def test_bad_settings_are_refused(changes):
    with pytest.raises(MailConfigError):
        SMTPSettings(**changes)


def test_password_is_not_in_repr():
    assert "s3cret" not in repr(SMTPSettings(username="u", password="s3cret"))


def test_mailbox_stores_lists_and_reads(tmp_path):
    mailbox = MailboxTransport(tmp_path / "mailbox")
    assert mailbox.list() == []
    with mailbox as transport:
        send(transport, invitation(1))
        send(transport, invitation(2))
    stored = mailbox.list()
    assert [mail.subject for mail in stored] == ["Invitation 2", "Invitation 1"]
    newest = stored[0]
    assert newest.to == "person2@example.org"
    assert newest.message_id == "<invite-2@planner.example.org>"
    assert newest.date.year == 2026
    assert newest.name.endswith("-invite-2-planner.example.org.eml")
    assert b"You are invited (2)." in mailbox.read(newest.name)
    assert not list((tmp_path / "mailbox").glob(".*"))


def test_mailbox_stores_finished_bytes_unchanged(tmp_path):
    raw = invitation(3).as_bytes(policy=email.policy.SMTP)
    mailbox = MailboxTransport(tmp_path)
    mailbox.send(raw, sender="planner@example.org", recipients=["person3@example.org"])
    [stored] = mailbox.list()
    assert stored.message_id == "<invite-3@planner.example.org>"
    assert mailbox.read(stored.name) == raw


@pytest.mark.parametrize(
    "name", ["../secret.eml", "/etc/passwd", "sub/x.eml", ".hidden.eml", "notes.txt", "..", ""]
)
def test_mailbox_read_refuses_other_paths(tmp_path, name):
    (tmp_path / "secret.eml").write_bytes(b"secret")
    mailbox = MailboxTransport(tmp_path / "mailbox")
    send(mailbox, invitation())
    with pytest.raises(ValueError):
        mailbox.read(name)


def test_retry_schedule_then_give_up():
    delays = [retry_delay(attempts) for attempts in range(1, 7)]
    assert delays == [timedelta(minutes=m) for m in (1, 5, 15, 60, 240)] + [None]
    with pytest.raises(ValueError):
        retry_delay(0)


def test_transport_from_config(tmp_path):
    mailbox = transport_from_config({"MAIL_TRANSPORT": "mailbox", "MAIL_MAILBOX_DIR": tmp_path})
    assert isinstance(mailbox, MailboxTransport) and mailbox.directory == tmp_path

    smtp = transport_from_config({
        "MAIL_TRANSPORT": "smtp", "SMTP_HOST": "mail.example.org", "SMTP_SECURITY": "STARTTLS",
        "SMTP_USERNAME": "planner", "SMTP_PASSWORD": "pw", "SMTP_TIMEOUT": "7.5",
        "SMTP_CA_FILE": "/etc/ca.pem", "SMTP_VERIFY": "false",
    })
    assert smtp.settings == SMTPSettings(
        host="mail.example.org", port=587, security="starttls", username="planner",
        password="pw", timeout=7.5, ca_file="/etc/ca.pem", verify=False,
    )
    assert transport_from_config({"SMTP_SECURITY": "tls"}).settings.port == 465
    assert transport_from_config({"SMTP_PORT": "2525"}).settings.port == 2525
    assert transport_from_config({"SMTP_VERIFY": None}).settings.verify is True


@pytest.mark.parametrize(
    "config",
    [{"MAIL_TRANSPORT": "pigeon"}, {"MAIL_TRANSPORT": "mailbox"}, {"SMTP_PORT": "x"},
     {"SMTP_VERIFY": "maybe"}],
)
def test_transport_from_config_refuses_bad_values(config):
    with pytest.raises(MailConfigError):
        transport_from_config(config)
