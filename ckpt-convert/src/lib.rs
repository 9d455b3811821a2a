//! Conversion of Linux-CR images between format revisions (work in progress: see issue 3).
