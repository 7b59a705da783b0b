//! `exp.toml`: what a project or a user settles once instead of on every command line: which
//! executor `exp run` uses and how it reaches Slurm, and how run directories hold the cache's
//! checkpoints.
//!
//! Two files are read, the user's (`$XDG_CONFIG_HOME/exp/config.toml`, else
//! `~/.config/exp/config.toml`) and then the project's (the nearest `exp.toml` in the
//! experiment file's directory or above it); a setting in the project's file wins. A command
//! line option wins over both.
//!
//! ```toml
//! [run]
//! executor = "slurm"        # or "local" (the default)
//!
//! [slurm]
//! partition = "gpu"         # every node's, unless the file's `resources` say otherwise
//! account = "my-lab"
//! max_jobs = 200            # jobs queued or running at once
//! poll_seconds = 5          # the longest wait between two `squeue` calls
//! resubmissions = 3         # times a cancelled, preempted or timed-out job is submitted again
//! nodes_per_task = 8        # nodes one job-array task computes in turn (default 1): for short
//!                           # nodes, exp's start (~0.3 s a job) is paid once for all of them
//! sbatch_args = ["--qos=normal"]
//!
//! [cache]
//! files = "copy"            # each run directory a copy of its own; "link" (the default)
//!                           # hard-links the cache's read-only checkpoints where it can
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where `exp run` computes nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Executor {
    /// In this process, `--jobs` nodes at once.
    Local,
    /// As Slurm jobs, from a cache on a filesystem the cluster shares.
    Slurm,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub run: RunConfig,
    #[serde(default)]
    pub slurm: SlurmConfig,
    #[serde(default)]
    pub cache: CacheConfig,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    pub files: Option<CacheFiles>,
}

/// How run directories hold the cache's checkpoints (the runtime's `CacheFiles`). Its own
/// type here: `exp`, which reads this file too, must not link the runtime (and libtorch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheFiles {
    Link,
    Copy,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub executor: Option<Executor>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmConfig {
    pub partition: Option<String>,
    pub account: Option<String>,
    pub max_jobs: Option<usize>,
    pub poll_seconds: Option<f64>,
    pub resubmissions: Option<u32>,
    pub nodes_per_task: Option<usize>,
    pub sbatch_args: Option<Vec<String>>,
}

impl Config {
    /// The settings for an experiment file: the user's, overridden by the project's.
    pub fn for_file(file: &Path) -> Result<Config, String> {
        Config::for_file_with(file, user_dir().as_deref())
    }

    /// As `for_file`, with the user's settings in `user_dir`.
    fn for_file_with(file: &Path, user_dir: Option<&Path>) -> Result<Config, String> {
        let user = match user_dir
            .map(|dir| dir.join("config.toml"))
            .filter(|path| path.is_file())
        {
            Some(path) => read(&path)?,
            None => Config::default(),
        };
        let project = match project_file(file) {
            Some(path) => read(&path)?,
            None => Config::default(),
        };
        Ok(project.over(user))
    }

    /// `self`'s settings where given, else `base`'s.
    fn over(self, base: Config) -> Config {
        Config {
            run: RunConfig {
                executor: self.run.executor.or(base.run.executor),
            },
            slurm: SlurmConfig {
                partition: self.slurm.partition.or(base.slurm.partition),
                account: self.slurm.account.or(base.slurm.account),
                max_jobs: self.slurm.max_jobs.or(base.slurm.max_jobs),
                poll_seconds: self.slurm.poll_seconds.or(base.slurm.poll_seconds),
                resubmissions: self.slurm.resubmissions.or(base.slurm.resubmissions),
                nodes_per_task: self.slurm.nodes_per_task.or(base.slurm.nodes_per_task),
                sbatch_args: self.slurm.sbatch_args.or(base.slurm.sbatch_args),
            },
            cache: CacheConfig {
                files: self.cache.files.or(base.cache.files),
            },
        }
    }
}

/// Reads one configuration file; an error names the file and, for bad TOML or an unknown
/// setting, the line and column (toml's own message).
fn read(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
    let config: Config =
        toml::from_str(&text).map_err(|error| format!("`{}`: {error}", path.display()))?;
    if let Some(seconds) = config.slurm.poll_seconds {
        if !(seconds.is_finite() && seconds >= 0.25) {
            return Err(format!(
                "`{}`: [slurm] poll_seconds = {seconds}: expected a number of seconds, at least 0.25",
                path.display()
            ));
        }
    }
    if config.slurm.max_jobs == Some(0) {
        return Err(format!(
            "`{}`: [slurm] max_jobs = 0: expected at least 1 job at a time",
            path.display()
        ));
    }
    if config.slurm.nodes_per_task == Some(0) {
        return Err(format!(
            "`{}`: [slurm] nodes_per_task = 0: expected at least 1 node to a task",
            path.display()
        ));
    }
    Ok(config)
}

/// exp's directory for the user's settings: `$XDG_CONFIG_HOME/exp`, else `~/.config/exp`.
pub fn user_dir() -> Option<PathBuf> {
    user_dir_from(
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    )
}

/// `user_dir` given the two variables (an empty one counts as unset).
fn user_dir_from(xdg_config_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let base = xdg_config_home
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            home.filter(|dir| !dir.is_empty())
                .map(|home| PathBuf::from(home).join(".config"))
        })?;
    Some(base.join("exp"))
}

/// The nearest `exp.toml` in the file's directory or above it.
fn project_file(file: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(file).ok()?;
    absolute
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("exp.toml"))
        .find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_settings_win_over_the_users_field_by_field() {
        let user: Config = toml::from_str(
            "[run]\nexecutor = \"slurm\"\n[slurm]\npartition = \"cpu\"\naccount = \"lab\"\n",
        )
        .unwrap();
        let project: Config =
            toml::from_str("[slurm]\npartition = \"gpu\"\nmax_jobs = 10\nnodes_per_task = 4\n")
                .unwrap();
        let merged = project.over(user);
        assert_eq!(merged.slurm.nodes_per_task, Some(4));
        assert_eq!(merged.run.executor, Some(Executor::Slurm));
        assert_eq!(merged.slurm.partition.as_deref(), Some("gpu"));
        assert_eq!(merged.slurm.account.as_deref(), Some("lab"));
        assert_eq!(merged.slurm.max_jobs, Some(10));
        assert_eq!(merged.slurm.resubmissions, None);
        assert_eq!(merged.cache.files, None);
        let project: Config = toml::from_str("[cache]\nfiles = \"copy\"\n").unwrap();
        let user: Config = toml::from_str("[cache]\nfiles = \"link\"\n").unwrap();
        assert_eq!(project.over(user).cache.files, Some(CacheFiles::Copy));
        let error = toml::from_str::<Config>("[cache]\nfiles = \"symlink\"\n").unwrap_err();
        assert!(
            error.to_string().contains("expected `link` or `copy`"),
            "{error}"
        );
    }

    #[test]
    fn the_nearest_exp_toml_above_the_file_is_the_projects() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("studies").join("one");
        std::fs::create_dir_all(&nested).unwrap();
        let file = nested.join("a.exp");
        assert_eq!(project_file(&file), None);
        std::fs::write(dir.path().join("exp.toml"), "[run]\nexecutor = \"local\"\n").unwrap();
        assert_eq!(project_file(&file), Some(dir.path().join("exp.toml")));
        std::fs::write(nested.join("exp.toml"), "").unwrap();
        assert_eq!(project_file(&file), Some(nested.join("exp.toml")));
    }

    #[test]
    fn the_users_directory_follows_xdg_then_home() {
        let some = |text: &str| Some(OsString::from(text));
        assert_eq!(
            user_dir_from(some("/x"), some("/h")),
            Some(PathBuf::from("/x/exp"))
        );
        assert_eq!(
            user_dir_from(some(""), some("/h")),
            Some(PathBuf::from("/h/.config/exp"))
        );
        assert_eq!(
            user_dir_from(None, some("/h")),
            Some(PathBuf::from("/h/.config/exp"))
        );
        assert_eq!(user_dir_from(None, some("")), None);
        assert_eq!(user_dir_from(None, None), None);
    }

    #[test]
    fn a_file_gets_the_users_settings_under_its_projects() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user");
        std::fs::create_dir_all(&user).unwrap();
        let project = dir.path().join("project");
        std::fs::create_dir_all(&project).unwrap();
        let file = project.join("a.exp");
        assert_eq!(
            Config::for_file_with(&file, Some(&user)),
            Ok(Config::default())
        );
        std::fs::write(
            user.join("config.toml"),
            "[run]\nexecutor = \"slurm\"\n[slurm]\naccount = \"lab\"\n",
        )
        .unwrap();
        std::fs::write(project.join("exp.toml"), "[slurm]\naccount = \"other\"\n").unwrap();
        let config = Config::for_file_with(&file, Some(&user)).unwrap();
        assert_eq!(config.run.executor, Some(Executor::Slurm));
        assert_eq!(config.slurm.account.as_deref(), Some("other"));
        assert_eq!(
            Config::for_file_with(&file, None).unwrap().run.executor,
            None
        );
        std::fs::write(user.join("config.toml"), "[run]\nexecutor = 1\n").unwrap();
        assert!(Config::for_file_with(&file, Some(&user))
            .unwrap_err()
            .contains("config.toml"));
    }

    #[test]
    fn bad_settings_name_the_file_and_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exp.toml");
        std::fs::write(&path, "[run]\nexecuter = \"slurm\"\n").unwrap();
        let error = read(&path).unwrap_err();
        assert!(error.contains("exp.toml"), "{error}");
        assert!(error.contains("line 2"), "{error}");
        assert!(error.contains("unknown field `executer`"), "{error}");
        std::fs::write(&path, "[run]\nexecutor = \"pbs\"\n").unwrap();
        let error = read(&path).unwrap_err();
        assert!(error.contains("unknown variant `pbs`"), "{error}");
        std::fs::write(&path, "[slurm]\npoll_seconds = 0.1\n").unwrap();
        assert!(read(&path).unwrap_err().contains("at least 0.25"));
        std::fs::write(&path, "[slurm]\nmax_jobs = 0\n").unwrap();
        assert!(read(&path).unwrap_err().contains("at least 1 job"));
        std::fs::write(&path, "[slurm]\nnodes_per_task = 0\n").unwrap();
        assert!(read(&path)
            .unwrap_err()
            .contains("at least 1 node to a task"));
        std::fs::write(&path, "[slurm]\nmax_jobs = 1\npoll_seconds = 0.25\n").unwrap();
        assert_eq!(read(&path).unwrap().slurm.max_jobs, Some(1));
    }
}
