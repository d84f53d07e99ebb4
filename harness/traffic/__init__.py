"""A team's own traffic as a suite: logged requests (and the incumbent's answers) read, validated and
cleaned of credentials before anything is stored."""
