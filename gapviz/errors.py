"""The one exception type a user can meet: a clear message, never a traceback."""


class GapvizError(Exception):
    """A problem with the user's input (file, option, data) explained in one message.

    The CLI prints it as ``gapviz: error: <message>`` and exits with status 2.
    Messages name the file, the dataset and what was expected.
    """
