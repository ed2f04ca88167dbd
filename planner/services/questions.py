"""Custom questions an organiser asks the invitees of one event, their answers per invitation, and the counts."""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ..errors import PlannerError
from ..models import Answer, Event, EventStatus, Invitation, Person, Question, QuestionAnswer, QuestionKind
from ..text import control_problem

MAX_QUESTIONS = 20
MAX_CHOICES = 20
CHOICE_LENGTH = 100
LABEL_LENGTH = 200
#: longest short-text answer kept
TEXT_LENGTH = 500
QUESTION_KINDS = {QuestionKind.TEXT: "Short text", QuestionKind.ONE: "One choice", QuestionKind.SEVERAL: "Several choices"}


class QuestionError(PlannerError):
    """A question, or an answer to one, that cannot be stored as given."""


@dataclass(frozen=True)
class QuestionDraft:
    """The organiser's input for one question."""

    label: str
    kind: QuestionKind
    choices: str  # one per line, as typed
    is_required: bool


def parse_choices(text: str) -> list[str]:
    """Return the choices typed one per line: stripped, empty lines and repeats dropped; raise QuestionError when one is bad."""
    choices = list(dict.fromkeys(line.strip() for line in (text or "").splitlines() if line.strip()))
    for choice in choices:
        problem = control_problem(choice)
        if problem:
            raise QuestionError(f"The choice {choice[:40]!r} {problem}.")
        if len(choice) > CHOICE_LENGTH:
            raise QuestionError(f"Each choice holds at most {CHOICE_LENGTH} characters.")
    if len(choices) > MAX_CHOICES:
        raise QuestionError(f"A question offers at most {MAX_CHOICES} choices.")
    return choices


def _checked(draft: QuestionDraft) -> tuple[str, str]:
    """Return the label and the stored choices of a valid draft; raise QuestionError otherwise."""
    label = (draft.label or "").strip()
    if not label:
        raise QuestionError("Write the question.")
    problem = control_problem(label)
    if problem:
        raise QuestionError(f"The question {problem}: keep it on one line, in plain text.")
    if len(label) > LABEL_LENGTH:
        raise QuestionError(f"The question holds at most {LABEL_LENGTH} characters.")
    choices = parse_choices(draft.choices)
    if draft.kind == QuestionKind.TEXT:
        return label, ""
    if len(choices) < 2:
        raise QuestionError("A choice question needs at least two choices, one per line.")
    return label, "\n".join(choices)


def _editable(event: Event) -> None:
    if event.status not in (EventStatus.DRAFT, EventStatus.SENT):
        raise QuestionError("The questions of a cancelled event cannot change.")


def questions_of(session: Session, event_id: int) -> list[Question]:
    """Return an event's questions in the order they were added."""
    return list(session.scalars(select(Question).where(Question.event_id == event_id).order_by(Question.id)))


def add_question(session: Session, event: Event, draft: QuestionDraft) -> Question:
    """Add a question to a draft or sent event."""
    _editable(event)
    label, choices = _checked(draft)
    if len(questions_of(session, event.id)) >= MAX_QUESTIONS:
        raise QuestionError(f"An event has at most {MAX_QUESTIONS} questions.")
    question = Question(event_id=event.id, label=label, kind=draft.kind, choices=choices, is_required=draft.is_required)
    session.add(question)
    session.flush()
    return question


def update_question(session: Session, event: Event, question: Question, draft: QuestionDraft) -> None:
    """Change a question; answers already given stay (counts show only the choices still offered)."""
    _editable(event)
    question.label, question.choices = _checked(draft)
    question.kind, question.is_required = draft.kind, draft.is_required
    session.flush()


def delete_question(session: Session, event: Event, question: Question) -> None:
    """Remove a question with its answers."""
    _editable(event)
    session.delete(question)
    session.flush()


def questions_with_answers(session: Session, invitation: Invitation) -> list[tuple[Question, list[str]]]:
    """Return the event's questions, each with this invitation's answer as a list of values (one SQL statement)."""
    rows = session.execute(
        select(Question, QuestionAnswer.value)
        .outerjoin(QuestionAnswer, and_(QuestionAnswer.question_id == Question.id, QuestionAnswer.invitation_id == invitation.id))
        .where(Question.event_id == invitation.event_id)
        .order_by(Question.id)
    ).all()
    return [(question, _values(value)) for question, value in rows]


def _values(value: str | None) -> list[str]:
    return [line for line in (value or "").split("\n") if line]


def read_answers(questions: Sequence[Question], submitted: Mapping[int, list[str]], *, saying_yes: bool) -> dict[int, list[str]]:
    """Return the submitted answers per question id, checked; raise QuestionError naming what is wrong or missing.

    A required question must be answered when saying yes; a choice must be one of those offered.
    """
    answers, missing = {}, []
    for question in questions:
        values = [value.strip() for value in submitted.get(question.id, []) if value.strip()]
        if question.kind == QuestionKind.TEXT:
            values = values[:1]
            for value in values:
                problem = control_problem(value)
                if problem:
                    raise QuestionError(f"Your answer to {question.label!r} {problem}: keep it on one line.")
                if len(value) > TEXT_LENGTH:
                    raise QuestionError(f"Your answer to {question.label!r} holds at most {TEXT_LENGTH} characters.")
        else:
            offered = question.choice_list
            if any(value not in offered for value in values):
                raise QuestionError(f"Choose among the choices offered for {question.label!r}.")
            if question.kind == QuestionKind.ONE and len(values) > 1:
                raise QuestionError(f"Choose one answer to {question.label!r}.")
            values = [choice for choice in offered if choice in values]
        if question.is_required and saying_yes and not values:
            missing.append(question.label)
        answers[question.id] = values
    if missing:
        raise QuestionError(f"Please answer before saying yes: {'; '.join(missing)}.")
    return answers


def save_answers(session: Session, invitation: Invitation, answers: Mapping[int, list[str]]) -> None:
    """Store an invitation's answers (an empty answer deletes the stored one)."""
    if not answers:
        return
    query = select(QuestionAnswer).where(QuestionAnswer.invitation_id == invitation.id)
    stored = {row.question_id: row for row in session.scalars(query)}
    for question_id, values in answers.items():
        row = stored.get(question_id)
        if not values:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(QuestionAnswer(question_id=question_id, invitation_id=invitation.id, value="\n".join(values)))
        else:
            row.value = "\n".join(values)
    session.flush()


@dataclass(frozen=True)
class QuestionCounts:
    """One question with what the people coming answered: a count per choice, or each text with its author."""

    question: Question
    answered: int
    choices: list[tuple[str, int]]
    texts: list[tuple[str, str]]


def question_counts(session: Session, event: Event) -> list[QuestionCounts]:
    """Count the answers of the people with a yes, per question and choice (two SQL statements)."""
    questions = questions_of(session, event.id)
    rows = session.execute(
        select(QuestionAnswer.question_id, QuestionAnswer.value, Person.name)
        .join(Invitation, QuestionAnswer.invitation_id == Invitation.id)
        .join(Person, Invitation.person_id == Person.id)
        .join(Question, QuestionAnswer.question_id == Question.id)
        .where(Question.event_id == event.id, Invitation.answer == Answer.YES, Invitation.cancelled_at.is_(None))
        .order_by(Person.name, Person.id)
    ).all()
    counts = []
    for question in questions:
        mine = [(name, _values(value)) for question_id, value, name in rows if question_id == question.id]
        chosen = Counter(value for _, values in mine for value in values)
        counts.append(
            QuestionCounts(
                question=question,
                answered=sum(1 for _, values in mine if values),
                choices=[(choice, chosen[choice]) for choice in question.choice_list],
                texts=[(name, values[0]) for name, values in mine if values] if question.kind == QuestionKind.TEXT else [],
            )
        )
    return counts
