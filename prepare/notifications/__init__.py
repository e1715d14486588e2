"""In-app notifications, reminders, e-mails and calendar feeds.

A notification stores what it says as a message key and parameters, never as
text: ``Notification(message_key="release_in_days", params={"ref": ...,
"days": 30, "date": "2027-01-06"})``. The text is rendered when it is read,
in the reader's language and formats (``Notification.text``): the page in the
signed-in user's language, the API in the caller's, the e-mail in the
recipient's (``User.language``, else the installation's ``LANGUAGE_CODE``).

Adding a kind of notification
-----------------------------
1. One entry in ``prepare.notifications.messages.MESSAGES``: the key and a
   ``Message`` with a ``gettext_lazy`` text with named parameters
   (``ngettext_lazy(singular, plural, "days")`` for a count). Parameters that
   are dates are stored as ISO strings and named in ``dates=(...)``; instants
   as ISO strings named in ``moments=(...)`` (shown in the zone of the
   parameter ``zone`` if given, e.g. the partnership's). For example::

       "transfer_incoming": Message(
           _("Transfer of %(ref)s proposed by %(partnership)s"),
       ),

2. If it is a new kind for the bell's list, a value in ``NotificationKind``
   (models.py) and a migration for its check constraint.
3. Create rows with ``message_key`` and ``params`` (leave ``title`` empty;
   it is only the fallback of old rows), and e-mail them with
   ``reminders.send_notification_mails(ids)`` after the commit, which renders
   each in its recipient's language.

Parameters hold references and dates, never case content: they travel by
e-mail and the API.
"""
