"""The directory pages: list, search, a person's page, upload, preview, confirm, nothing written on bad input;
the CSV download; the import command."""

import codecs
import csv
import io
import os
import re
import secrets
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, update

from planner.directory import PersonRow, search_key
from planner.extensions import db
from planner.models import Answer, Invitation, OrganiserRole, Person, StagedImport
from planner.services import people as people_service
from planner.services.people import write_rows
from tests.helpers import csrf_from, statements

GOOD = b"email,name,department,level\nann@example.com,Ann Lee,Sales,Senior\nbob@example.com,Bob Ray,Engineering,Junior\n"


def upload(client, data: bytes, filename="staff.csv"):
    token = csrf_from(client.get("/people/import").data)
    return client.post(
        "/people/import", data={"csrf_token": token, "file": (io.BytesIO(data), filename)}, content_type="multipart/form-data"
    )


def count_people() -> int:
    return db.session.scalar(select(func.count(Person.id)))


def count_staged() -> int:
    return db.session.scalar(select(func.count(StagedImport.id)))


def confirm(client, location: str, **fields):
    """Confirm a staged import from its preview page."""
    return client.post(location, data={"csrf_token": csrf_from(client.get(location).data), **fields})


def add_people(count: int, **fields) -> None:
    db.session.add_all(
        Person(email=f"p{number}@example.com", name=f"Person {number:05d}", department=fields.get("department", "Sales"), level=1)
        for number in range(count)
    )
    db.session.commit()




def names_on(page: str) -> list[str]:
    return re.findall(r'<a href="/people/\d+">([^<]+)</a>', page)


def test_upload_preview_then_confirm(client, login, make_person):
    login()
    make_person(email="bob@example.com", name="Bob Ray", department="Engineering", level=0)
    make_person(email="gone@example.com", name="Gone Person")
    response = upload(client, GOOD)
    assert response.status_code == 302
    preview = client.get(response.headers["Location"])
    page = preview.data.decode()
    assert "1 new, 1 changed, 0 unchanged" in page and "1 active people missing" in page
    assert "level: 0 → 1" in page and "gone@example.com" in page
    assert count_people() == 2, "nothing is written before confirmation"
    confirm = client.post(response.headers["Location"], data={"csrf_token": csrf_from(preview.data), "deactivate_missing": "y"})
    assert confirm.status_code == 302
    assert "1 new, 1 changed, 1 deactivated" in client.get("/people/").data.decode()
    people = {p.email: p for p in db.session.scalars(select(Person))}
    assert people["ann@example.com"].level == 3 and people["bob@example.com"].level == 1
    assert not people["gone@example.com"].is_active
    assert db.session.scalar(select(func.count(StagedImport.id))) == 0


def test_keeping_missing_people_active(client, login, make_person):
    login()
    make_person(email="stays@example.com")
    location = upload(client, GOOD).headers["Location"]
    client.post(location, data={"csrf_token": csrf_from(client.get(location).data)})
    assert db.session.scalar(select(Person).where(Person.email == "stays@example.com")).is_active


def test_bad_rows_are_listed_and_nothing_is_written(client, login):
    login()
    data = GOOD + b"broken,X,Sales,Mid\nann@EXAMPLE.com,Ann Again,Sales,Mid\n"
    response = upload(client, data)
    page = response.data.decode()
    assert response.status_code == 400
    assert "line 4: bad email" in page and "line 5: duplicate email ann@example.com (first on line 2)" in page
    assert "nothing was imported" in page
    assert count_people() == 0 and db.session.scalar(select(func.count(StagedImport.id))) == 0


def test_a_second_confirmation_changes_nothing(client, login):
    login()
    location = upload(client, GOOD).headers["Location"]
    token = csrf_from(client.get(location).data)
    assert client.post(location, data={"csrf_token": token}).status_code == 302
    assert client.post(location, data={"csrf_token": token}).status_code == 302
    assert count_people() == 2


def test_another_organisers_staged_import_is_not_visible(client, login, make_organiser, app):
    other = make_organiser(email="other@example.com")
    staged = StagedImport(organiser_id=other.id, filename="x.csv", payload="[]")
    db.session.add(staged)
    db.session.commit()
    login(make_organiser(email="second-admin@example.com", role=OrganiserRole.ADMIN))  # imports are for admins
    assert client.get(f"/people/import/{staged.id}").status_code == 404


def test_search_and_filters(client, login, make_person):
    login()
    make_person(email="zed@example.com", name="Zed Zulu", department="Sales", level=2)
    make_person(email="amy@example.com", name="Amy Alpha", department="Engineering", level=4)
    assert "Zed Zulu" in client.get("/people/?q=zulu").data.decode()
    assert "Amy Alpha" not in client.get("/people/?q=zulu").data.decode()
    page = client.get("/people/?department=Engineering&level=4").data.decode()
    assert "Amy Alpha" in page and "Zed Zulu" not in page


def test_import_command_reports_bad_lines_and_writes_nothing(app, tmp_path):
    runner = app.test_cli_runner()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(GOOD + b"x@example.com,X,Sales,Wizard\n")
    result = runner.invoke(args=["people", "import", str(bad)])
    assert result.exit_code != 0 and "line 4: unknown level 'Wizard'" in result.output
    assert count_people() == 0
    good = tmp_path / "good.csv"
    good.write_bytes(GOOD)
    result = runner.invoke(args=["people", "import", str(good)])
    assert result.exit_code == 0 and "2 new" in result.output
    again = runner.invoke(args=["people", "import", str(good)])
    assert "0 new, 0 changed, 2 unchanged" in again.output


def test_the_people_page_is_paginated_and_costs_the_same_statements_for_10_or_300_people(client, login):
    login()
    add_people(10)
    with statements() as few:
        page = client.get("/people/").data.decode()
    assert len(names_on(page)) == 10 and "Page 1 of" not in page
    db.session.add_all(
        Person(email=f"q{number}@example.com", name=f"Q {number:05d}", department="Sales", level=1) for number in range(10, 300)
    )
    db.session.commit()
    with statements() as many:
        page = client.get("/people/").data.decode()
    assert len(names_on(page)) == 100 and "Page 1 of 3" in page and "300 people" in page
    assert len(many) == len(few) == 4, many


def test_page_links_keep_the_filters(client, login):
    login()
    add_people(150, department="Sales")
    db.session.add_all(Person(email=f"e{n}@example.com", name=f"Eng {n}", department="Engineering", level=2) for n in range(30))
    db.session.commit()
    first = client.get("/people/?department=Sales&q=person").data.decode()
    assert "150 match" in first and "Page 1 of 2" in first
    link = re.search(r'href="([^"]*page=2[^"]*)"', first).group(1).replace("&amp;", "&")
    assert "department=Sales" in link and "q=person" in link
    second = client.get(link).data.decode()
    names = names_on(second)
    assert len(names) == 50 and all(name.startswith("Person") for name in names)
    assert "Page 2 of 2" in second
    beyond = client.get("/people/?department=Sales&page=99").data.decode()
    assert "Page 2 of 2" in beyond, "a page past the end shows the last page"


def test_search_ignores_accents_and_case_and_follows_renames(client, login, make_person):
    login()
    tomas = make_person(email="t.orsted@example.com", name="Tomás Ørsted")
    make_person(email="zoe@example.com", name="Zoë Zulu")
    for query in ("tomas", "TOMÁS", "orsted", "t.ORSTED@"):
        page = client.get("/people/", query_string={"q": query}).data.decode()
        assert names_on(page) == ["Tomás Ørsted"], query
    assert names_on(client.get("/people/?q=%25").data.decode()) == [], "% is a letter, not a wildcard"
    location = upload(client, b"email,name,department,level\nt.orsted@example.com,Tom Berg,Engineering,1\n").headers["Location"]
    confirm(client, location)
    assert names_on(client.get("/people/?q=tomas").data.decode()) == []
    assert names_on(client.get("/people/?q=berg").data.decode()) == ["Tom Berg"]
    db.session.refresh(tomas)
    assert tomas.search_key == "tom berg t.orsted@example.com"


def test_an_empty_result_offers_to_clear_the_filter_and_an_empty_directory_offers_the_import(client, login, make_person):
    login()
    empty = client.get("/people/?q=nobody").data.decode()
    assert "The directory is empty" in empty and "No one matches" not in empty
    make_person(name="Ann Lee")
    page = client.get("/people/?q=nobody").data.decode()
    assert "No one matches" in page and "The directory is empty" not in page
    assert '<a href="/people/">Clear the filter</a>' in page


def make_invitation(event, person, answer=Answer.PENDING, comment=None) -> Invitation:
    invitation = Invitation(event=event, person=person, token_hash=secrets.token_hex(32), answer=answer, comment=comment)
    db.session.add(invitation)
    db.session.commit()
    return invitation


def test_a_person_page_shows_their_data_invitations_and_answers_at_a_fixed_cost(client, login, make_person, make_event):
    organiser = login()
    person = make_person(email="ann@example.com", name="Ann Lee", department="Sales", level=3, is_opted_out=True)
    person_id = person.id
    make_invitation(make_event(organiser, title="Spring lunch"), person, Answer.YES, "Vegetarian, please")
    path = f"/people/{person_id}"
    with statements() as one:
        page = client.get(path).data.decode()
    assert "Ann Lee" in page and "ann@example.com" in page and "Sales" in page and "Senior" in page and "opted out" in page
    assert "Spring lunch" in page and ">yes<" in page and "Vegetarian, please" in page
    assert f'action="/people/{person_id}/opt-in"' in page and f'action="/people/{person_id}/leave"' in page
    person, organiser = db.session.get(Person, person_id), db.session.merge(organiser)
    for number in range(4):
        make_invitation(make_event(organiser, title=f"Lunch {number}", days_ahead=10 + number), person, Answer.NO)
    with statements() as five:
        page = client.get(path).data.decode()
    assert page.count('<td class="answer">') == 5 and page.index("Lunch 3") < page.index("Spring lunch"), "latest first"
    assert len(five) == len(one) == 3, five
    assert client.get("/people/999999").status_code == 404


def test_leave_from_a_person_page_goes_back_to_it(client, login, make_person):
    login()
    person = make_person()
    path = f"/people/{person.id}"
    response = client.post(
        f"{path}/leave", data={"csrf_token": csrf_from(client.get(path).data), "on_leave_until": "2999-01-01", "next": path}
    )
    assert response.status_code == 302 and response.headers["Location"] == path
    assert "on leave until 2999-01-01" in client.get(path).data.decode()


def test_the_preview_puts_the_summary_and_the_import_button_before_the_lists(client, login):
    login()
    data = b"email,name,department,level\n" + b"".join(b"p%d@example.com,P %d,Sales,1\n" % (n, n) for n in range(300))
    page = client.get(upload(client, data).headers["Location"]).data.decode()
    assert page.index("300 new") < page.index('<button type="submit" class="primary">Import</button>') < page.index("New people")


def test_the_preview_says_how_the_file_was_read(client, login):
    login()
    text = "email;name;department;level\r\nann@example.com;Ann Lée;Sales;Senior\r\n"
    location = upload(client, codecs.BOM_UTF16_LE + text.encode("utf-16-le")).headers["Location"]
    page = client.get(location).data.decode()
    assert "Read as UTF-16, semicolon-separated." in page and "Ann Lée" in page and "warning" not in page
    confirm(client, location)
    assert db.session.scalar(select(Person.name)) == "Ann Lée"
    latin = "email,name,department,level\nb@example.com,Bj\u00f6rn,Sales,1\n".encode("cp1252")
    guessed = client.get(upload(client, latin).headers["Location"]).data.decode()
    assert "Read as Windows-1252, comma-separated." in guessed and "not UTF-8 (from line 2 on)" in guessed
    assert "Bj\u00f6rn" in guessed


TWO_LINES = b"email,name,department,level\nann@example.com,Ann,Sales,1\n"
HUGE_FIELD = TWO_LINES + b"bob@example.com," + b"x" * 200_000 + b",Sales,1\n"
UNCLOSED = TWO_LINES + b'bob@example.com,"Bob,Sales,1\n' + b"c@example.com,C,Sales,1\n" * 50


@pytest.mark.parametrize("data, message", [
    (HUGE_FIELD, "line 3: a field is longer than 128 KiB"),
    (UNCLOSED, "line 3: a quote opened here is never closed"),
])
def test_an_unreadable_csv_is_refused_by_upload_and_by_the_command(client, login, app, tmp_path, data, message):
    login()
    response = upload(client, data)
    assert response.status_code == 400 and message in response.data.decode()
    assert count_people() == 0 and count_staged() == 0
    path = tmp_path / "staff.csv"
    path.write_bytes(data)
    result = app.test_cli_runner().invoke(args=["people", "import", str(path)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert message in result.output and "Traceback" not in result.output and "Error: " in result.output
    assert count_people() == 0


def test_the_real_import_command_refuses_an_unreadable_csv_without_a_traceback(tmp_path):
    path = tmp_path / "staff.csv"
    path.write_bytes(HUGE_FIELD)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "PLANNER_SECRET_KEY": "test-secret-key",
           "PLANNER_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'planner.sqlite'}"}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "people", "import", str(path)],
                            cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "line 3: a field is longer than 128 KiB" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("line, reason", [
    ("ann@example.com,Ann\x00Lee,Sales,1", "line 2: name contains a NUL byte"),
    ('ann@example.com,"Ann\r\nLee",Sales,1', "line 2: name contains a line break"),
    (f"ann@example.com,{'N' * 300},Sales,1", "line 2: name has 300 characters; at most 200 fit"),
    (f"ann@example.com,Ann,{'D' * 5000},1", "line 2: department has 5000 characters; at most 120 fit"),
    (f"{'e' * 250}@example.com,Ann,Sales,1", "line 2: email has 262 characters; at most 254 fit"),
])
def test_bad_content_is_refused_with_its_line_and_nothing_is_written(client, login, line, reason):
    login()
    response = upload(client, f"email,name,department,level\n{line}\nbob@example.com,Bob,Sales,1\n".encode())
    assert response.status_code == 400 and reason in response.data.decode()
    assert count_people() == 0 and count_staged() == 0


@pytest.mark.parametrize("data", [
    b"", codecs.BOM_UTF8, b"  \r\n \t\n", b"email,name,department,level\n", codecs.BOM_UTF16_LE,
])
def test_empty_files_answer_400_on_line_1(client, login, data):
    login()
    response = upload(client, data)
    page = response.data.decode()
    assert response.status_code == 400 and "line 1: " in page
    assert count_staged() == 0


def test_the_upload_form_states_the_size_limit_and_an_oversized_upload_gets_413(client, login):
    login()
    assert "Files up to 5 MB." in client.get("/people/import").data.decode()
    assert upload(client, b"x" * (20 * 1024 * 1024)).status_code == 413
    assert count_staged() == 0


def test_formula_like_names_import_and_are_neutralised_in_the_download(client, login):
    login()
    data = (b"email,name,department,level,joined_on,active\n"
            b"ann@example.com,=HYPERLINK(\"http://evil.example\"),+Sales,Senior,2020-02-01,yes\n"
            b"bob@example.com,Bob Ray,@Ops,0,,no\n")
    confirm(client, upload(client, data).headers["Location"])
    assert db.session.scalar(select(Person.name).where(Person.email == "ann@example.com")) == '=HYPERLINK("http://evil.example")'
    response = client.get("/people/directory.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode())))
    assert rows == [
        ["email", "name", "department", "level", "joined_on", "active"],
        ["ann@example.com", "'=HYPERLINK(\"http://evil.example\")", "'+Sales", "Senior", "2020-02-01", "yes"],
        ["bob@example.com", "Bob Ray", "'@Ops", "Intern", "", "no"],
    ]
    assert 'href="/people/directory.csv"' in client.get("/people/").data.decode()


def test_the_download_imports_back_unchanged(client, login, make_person):
    login()
    make_person(email="ann@example.com", name="Ann Lée", department="Sales", level=3)
    make_person(email="bob@example.com", name="Bob", department="Ops", level=0, is_active=False)
    exported = client.get("/people/directory.csv").data
    page = client.get(upload(client, exported).headers["Location"]).data.decode()
    assert "0 new, 0 changed, 2 unchanged" in page


NOW = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
FILE = [
    PersonRow(2 + n, f"p{n}@example.com", f"Ånne {n}", "Sales", n % 3, date(2020, 1, 1 + n) if n % 2 else None, n != 1)
    for n in range(4)
]
CHANGED = [replace(FILE[0], department="Ops", joined_on=date(2021, 5, 6)), replace(FILE[1], is_active=True), FILE[2]]


def stored() -> list[tuple]:
    """Return every person as the driver reads the row back (the id aside), by e-mail."""
    columns = ", ".join(column.name for column in Person.__table__.c if column.name != "id")
    return db.session.connection().exec_driver_sql(f"SELECT {columns} FROM person ORDER BY email").all()


def insert_through_sqlalchemy(rows: list[PersonRow]) -> None:
    """Insert rows as imports did before they bound through the driver: Core with SQLAlchemy's bind processing."""
    values = [{**vars_of(row), "is_opted_out": False, "created_at": NOW, "updated_at": NOW} for row in rows]
    db.session.execute(insert(Person.__table__), values)


def vars_of(row: PersonRow) -> dict:
    fields = ("email", "name", "department", "level", "joined_on", "is_active")
    return {**{name: getattr(row, name) for name in fields}, "search_key": search_key(row.name, row.email)}


def test_an_import_stores_the_values_sqlalchemy_would_bind(app, monkeypatch):
    """New, changed and deactivated people bind through the driver: the stored rows are those SQLAlchemy's own binding
    of the same values stores."""
    monkeypatch.setattr(people_service, "utcnow", lambda: NOW)
    write_rows(db.session, FILE, deactivate_missing=False)
    first = stored()
    db.session.execute(delete(Person))
    insert_through_sqlalchemy(FILE)
    assert stored() == first
    summary = write_rows(db.session, CHANGED, deactivate_missing=True)
    again = stored()
    assert (len(summary.new), len(summary.changed), summary.unchanged, len(summary.missing)) == (0, 2, 1, 1)
    db.session.execute(delete(Person))
    insert_through_sqlalchemy(FILE)
    ids = dict(db.session.execute(select(Person.email, Person.id)).all())
    changes = [{**vars_of(row), "id": ids[row.email], "updated_at": NOW} for row in CHANGED[:2]]
    db.session.execute(update(Person), changes + [{"id": ids[FILE[3].email], "is_active": False, "updated_at": NOW}])
    assert stored() == again


def test_an_import_costs_the_same_statements_for_5_or_300_rows(app):
    counts = []
    for size in (5, 300):
        db.session.execute(delete(Person))
        rows = [PersonRow(2 + n, f"p{n}@example.com", f"Person {n}", "Sales", 1, None, True) for n in range(size)]
        with statements() as first:
            write_rows(db.session, rows, deactivate_missing=False)
        with statements() as again:
            write_rows(db.session, [replace(row, department="Ops") for row in rows[1:]], deactivate_missing=True)
        counts.append((len(first), len(again)))
    assert counts[0] == counts[1] == (2, 3)  # read the directory, insert; read, update the changed, deactivate the missing


def test_a_bulk_import_and_its_changes_keep_every_value_as_written(app):
    """write_rows inserts and updates in bulk (on SQLite one statement over the rows as JSON): names with quotes,
    accents and backslashes, missing start dates, inactive people and the order of the ids come through unchanged."""
    names = ['Zoë "Zed" O\'Neil', "Back\\slash Person", "Ærøskøbing Åse", "日本 太郎"]
    rows = [PersonRow(n + 2, f"bulk{n}@example.com", name, "R&D", n, date(2021, 3, n + 1) if n % 2 else None, n != 2)
            for n, name in enumerate(names)]
    write_rows(db.session, rows, deactivate_missing=False)
    db.session.commit()
    stored = db.session.execute(select(Person.email, Person.name, Person.department, Person.level, Person.joined_on,
                                       Person.is_active, Person.search_key).order_by(Person.id)).all()
    assert [tuple(row) for row in stored] == [
        (row.email, row.name, "R&D", row.level, row.joined_on, row.is_active, search_key(row.name, row.email)) for row in rows]
    changed = [replace(rows[0], name="Zoë Changed", joined_on=date(2020, 1, 1)), replace(rows[1], joined_on=None, level=4)]
    write_rows(db.session, changed + rows[2:], deactivate_missing=True)
    db.session.commit()
    db.session.expire_all()
    people = db.session.scalars(select(Person).order_by(Person.id)).all()
    assert [(p.name, p.level, p.joined_on) for p in people[:2]] == [("Zoë Changed", 0, date(2020, 1, 1)), (names[1], 4, None)]
    assert [p.is_active for p in people] == [True, True, False, True]
