from __future__ import annotations

import io
import json
import re
import runpy
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practiceid import __version__, check
from practiceid.adapters.sql import SCHEMA_REVISION, SqlStore
from practiceid.cli import main
from practiceid.policies.identifiers import niss
from practiceid.policies.login import Login
from practiceid.testing.strategies import niss_numbers


def test_demo_registers_users_and_shows_refusals(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "registered 'Jeanne Dupont'" in out
    assert "user.duplicate_email" in out
    assert "user.duplicate_login" in out
    assert out.split("Weak passwords")[1].split("Logging in")[0].count("password.rejected") == 3
    assert "email.generic_address" in out
    assert "auth.permission_denied" in out
    assert "Vrai-Cheval-Agrafe-42" not in out.split("Logging in")[1]


def test_demo_shows_practitioners_trainees_and_the_report_header(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out.split("Practitioners, trainees")[1]
    assert "practitioner.supervisor_required" in out  # B4
    assert "practitioner.supervises_trainees" in out  # B4
    assert "gets TDu" in out  # A7
    assert "BIC BBRUBEBB, BCE 0403.019.261" in out  # B4, B6
    assert "logo.unsupported_type" in out  # C7
    assert "Dr Dupont True, Tania Dubois (receptionist) False" in out  # E3


def test_demo_runs_on_a_sqlite_file_it_reads_back(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "stored in sqlite:///" in out
    assert f"(schema {SCHEMA_REVISION})" in out
    assert (
        "reads back 8 users, 3 establishments, 10 memberships, 3 practitioners, "
        "1 onboarding records, 5 licenses and 18 outbox messages (18 sent), "
        "1 clinic login, 1 key pair (public half only), 1 second factor and "
    ) in out


def test_demo_shares_a_clinic_device_and_stops_a_pin_guessing_attack(capsys):
    """The issue's demo: clinic login, three PINs shown once, unlock, lock, brute force (F1-F4)."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out.split("Shared devices:")[1].split("Changing an e-mail")[0]
    assert "clinic login 'accueil@cabinet-tilleuls.be': an account of kind 'clinic'" in out
    assert out.count("(shown once, stored as a keyed digest: F2)") == 3
    assert "signs in with the clinic login: locked" in out
    assert "agenda: True, sign a consultation: False" in out  # F3: her own role
    assert "five idle minutes later the tablet is locked" in out
    # 1 000 guesses: 20 evaluated (16 wrong, 4 asking for the password again), the rest not.
    assert "16 wrong PIN, 4 credential asked again, 980 throttled, not checked" in out
    assert "PIN after her deactivation\n   refused [pin.incorrect]" in out
    assert "member.set_remote_access: actor Jeanne Dupont, device session" in out
    assert "account clinic login" in out  # F3: attributed to (device session, member)
    assert "intact True" in out
    assert ": edited" in out


def test_demo_backs_up_a_key_pair_and_signs_in_with_an_authenticator_app(capsys):
    """The demo's D3 and F5: key pair, backup file, restore, wrong password, TOTP sign-in."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out.split("Personal key pairs and second factors (D3, F5)")[1]
    out = out.split("Professional numbers")[0]
    assert "an X25519 key pair is generated on her side" in out
    assert "backup written to dr.dupont-key.pem in the demo's directory" in out
    assert "'practiceid key backup' header, then an encrypted PKCS#8 PEM block" in out
    assert "same key True, backup backup_confirmed" in out
    assert "wrong password\n   refused [key_backup.wrong_password]" in out
    assert "otpauth://totp/practiceid:dr.dupont?digits=6&secret=…&algorithm=SHA1" in out
    assert "password alone\n   refused [auth.second_factor_required]" in out
    assert "logged in as Jeanne Dupont, method totp" in out
    # Secrets stay off the console: no TOTP secret, no private key, no backup password.
    assert re.search(r"secret=[A-Z2-7]{8}", out) is None
    assert "PRIVATE KEY-----" not in out
    assert "Tilleul-Coffre" not in out


def test_demo_walks_an_invitation_through_reminders_expiry_and_activation(capsys):
    """The issue's demo: reminders, expiry, re-send, acceptance, first sign-in, terms (D1, D2)."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out.split("Invitations:")[1].split("Licenses:")[0]
    assert [line.split(":")[0].strip() for line in out.splitlines() if "the sweep" in line] == [
        "* day  3",
        "* day  7",
        "* day 12",
        "* day 14",
    ]
    assert out.count("✉ invitation_reminder") == 3
    assert "the sweep expires 1 invitation(s)" in out
    assert "✉ invitation_expired → Jeanne.Dupont@cabinet-tilleuls.be" in out  # to the inviter
    assert out.count("✉ invitation →") == 2  # the first round and the re-send
    assert "[invitation.resend_throttled]" in out
    assert "'reason': 'cooldown'" in out
    assert "[invitation.invalid]" in out  # the same link twice
    assert "must still do ['terms']" in out
    assert "terms accepted: active" in out
    assert "✉ member_added" in out  # C1: an existing account is attached, not invited
    # Links are printed shortened: the console never shows a working token.
    assert all(len(part.split("…")[0]) == 6 for part in out.split("invitation#")[1:])


def test_demo_walks_a_license_from_provisional_to_expired(capsys):
    """The issue's demo: provisional, request, invoice line, payment, activation, notice (E1-E4)."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out.split("Licenses:")[1].split("Changing an e-mail")[0]
    assert "Jeanne Dupont: physician license, provisional" in out  # E1
    assert "Tania Dubois: staff license, active, last day none (free, E3)" in out
    assert "may sign on her provisional license (E1, locum work too): True" in out
    assert out.count("activation requested for") == 2
    assert "INAMI 12345676003" in out  # E2: the request and the invoice line name the number
    assert "total 960.00 EUR" in out
    thomas = "Thomas Dewitte, INAMI 12345625005, physician, 12 months, 480.00 EUR"
    assert f"{thomas}, through the supervisor (B4)" in out
    assert "payment recorded for 2 license(s): paid" in out
    assert "Dr Dupont's license is active, late: False" in out
    assert "the sweep reports 1 late activation(s)" in out
    assert out.count("✉ license_activation_late") == 2  # the requester and the desk
    assert "1 expiry notice(s), 30 days before" in out
    assert "✉ license_expiring → Jeanne.Dupont@cabinet-tilleuls.be" in out
    assert "✉ license_expired → Jeanne.Dupont@cabinet-tilleuls.be" in out
    assert "signing: license_required; reading records: allowed" in out


def test_demo_keeps_the_database_it_is_given(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/kept.sqlite"
    assert main(["demo", "--database", url]) == 0
    assert f"stored in {url}" in capsys.readouterr().out
    with SqlStore.from_url(url) as store, store.unit_of_work() as uow:
        assert uow.users.find_by_login(Login("DR.DUPONT")) is not None


def test_version_flag(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out


def test_module_entry_point_requires_a_command():
    result = subprocess.run(
        [sys.executable, "-m", "practiceid"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "demo" in result.stderr


def test_running_the_package_as_a_module_calls_main(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["practiceid", "--version"])
    with pytest.raises(SystemExit) as raised:
        runpy.run_module("practiceid", run_name="__main__")
    assert raised.value.code == 0
    assert __version__ in capsys.readouterr().out


# --- python -m practiceid check (B2, B3, B4, B6) -------------------------------------------

NISS_FORMS = ("85.07.30-033 28", "85073003328", "85.07.30-033.28")


def test_check_refuses_a_wrong_inami_number_with_its_reason_and_code(capsys):
    assert main(["check", "inami", "1-23456-78-901"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("invalid INAMI number:")
    assert "check digits match none of the moduli 97, 89, 83, 79" in out
    assert "[identifier.invalid_checksum]" in out


def test_check_accepts_a_gp_trainee_and_says_a_supervisor_is_needed_b4(capsys):
    assert main(["check", "inami", "1.23456.25.005"]) == 0
    out = capsys.readouterr().out
    assert "valid INAMI number: 1-23456-25-005" in out
    assert "modulus 97" in out
    assert "must choose a training supervisor" in out


def test_check_says_nothing_of_a_supervisor_for_a_recognised_gp(capsys):
    assert main(["check", "inami", "1-23456-76-003"]) == 0
    out = capsys.readouterr().out
    assert "modulus 89" in out
    assert "supervisor" not in out


def test_check_fails_when_one_of_several_numbers_is_invalid(capsys):
    assert main(["check", "inami", "1-23456-25-005", "1-23456-78-901", "1-23456-76-003"]) == 1
    lines = capsys.readouterr().out.splitlines()
    verdicts = [line.split(":")[0] for line in lines if not line.startswith(" ")]
    assert verdicts == ["valid INAMI number", "invalid INAMI number", "valid INAMI number"]


def test_check_succeeds_when_every_number_is_valid(capsys):
    assert main(["check", "rpps", "10001234565", "100 0123 4565"]) == 0
    assert capsys.readouterr().out.count("valid RPPS number: 10001234565") == 2


def test_check_derives_the_bic_and_shows_the_unknown_bank_notice_b6(capsys):
    assert main(["check", "iban", "BE48 3200 7018 4927", "BE83138811735115"]) == 0
    out = capsys.readouterr().out
    assert "BIC BBRUBEBB" in out
    assert "notice [iban.bic_unknown]" in out


def test_check_json_prints_one_object_per_number(capsys):
    assert main(["check", "--json", "inami", "1-23456-25-005", "1-23456-78-901"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    valid, invalid = map(json.loads, lines)
    assert valid == {
        "kind": "inami",
        "valid": True,
        "notices": [],
        "compact": "12345625005",
        "display": "1-23456-25-005",
    }
    assert invalid["kind"] == "inami"
    assert invalid["valid"] is False
    assert invalid["error"]["code"] == "identifier.invalid_checksum"
    assert invalid["error"]["violations"][0]["params"]["moduli"] == [97, 89, 83, 79]


def test_check_json_carries_notices(capsys):
    assert main(["check", "iban", "BE83138811735115", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["compact"] == "BE83138811735115"
    assert [notice["code"] for notice in data["notices"]] == ["iban.bic_unknown"]


@pytest.mark.parametrize("as_json", [False, True])
def test_check_never_echoes_a_niss_b2(capsys, as_json):
    numbers = [*NISS_FORMS, "98.47.28-997.65", "85.07.30-033 29", "8507300332"]
    argv = ["check", "niss", *numbers] + (["--json"] if as_json else [])
    assert main(argv) == 1
    out = capsys.readouterr().out
    for secret in (*NISS_FORMS, "98472899765", "98.47.28-997.65", "85073003329", "8507300332"):
        assert secret not in out
    assert "850730" not in out
    assert "national register number" in out or as_json
    if as_json:
        records = [json.loads(line) for line in out.splitlines()]
        assert [r["valid"] for r in records] == [True, True, True, True, False, False]
        assert all("compact" not in r and "display" not in r for r in records)


@given(niss_numbers(written=True), st.booleans())
def test_check_never_echoes_any_valid_niss(number, as_json):
    out = io.StringIO()
    assert check.run("niss", [number], as_json=as_json, out=out) == 0
    compact = niss.validate(number)
    for secret in (compact, niss.format(compact), number.strip(), compact[:6]):
        assert secret not in out.getvalue()


def test_check_with_an_unknown_kind_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["check", "siret", "12345678900017"])
    assert raised.value.code == 2
    assert "invalid choice: 'siret'" in capsys.readouterr().err


def test_check_without_a_number_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["check", "inami"])
    assert raised.value.code == 2
    assert capsys.readouterr().out == ""


def test_check_as_a_subprocess_exits_1_for_an_invalid_number():
    result = subprocess.run(
        [sys.executable, "-m", "practiceid", "check", "inami", "1-23456-78-901"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "identifier.invalid_checksum" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("kind", "number", "expected"),
    [
        ("inami", "1-23456-25", "deprecated 8-digit form"),
        ("inami", "1-23456-25-999", "competence 999: not in the bundled table"),
        ("bce", "BE 0403.019.261", "VAT number BE0403019261"),
        ("rpps", "10001234565", "IDNPS 810001234565"),
        ("adeli", "751001231", "département 75"),
        ("adeli", "2A1001234", "Corsica: key not verifiable"),
        ("idnps", "810001234565", "from rpps"),
        ("finess", "750234569", "département 75"),
        ("finess", "2B0012345", "Corsica: key not verifiable"),
        ("iban", "BE48 3200 7018 4927", "BIC BBRUBEBB"),
    ],
)
def test_check_explains_every_kind_of_number(kind, number, expected, capsys):
    assert main(["check", kind, number]) == 0
    assert expected in capsys.readouterr().out
