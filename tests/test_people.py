"""The directory pages: upload, preview, confirm, nothing written on bad input; the import command."""

import io

from sqlalchemy import func, select

from planner.extensions import db
from planner.models import Person, StagedImport
from tests.helpers import csrf_from

GOOD = b"email,name,department,level\nann@example.com,Ann Lee,Sales,Senior\nbob@example.com,Bob Ray,Engineering,Junior\n"


def upload(client, data: bytes, filename="staff.csv"):
    token = csrf_from(client.get("/people/import").data)
    return client.post(
        "/people/import", data={"csrf_token": token, "file": (io.BytesIO(data), filename)}, content_type="multipart/form-data"
    )


def count_people() -> int:
    return db.session.scalar(select(func.count(Person.id)))


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
    login()
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
