mod cli;
mod report;
