#!powershell

# Copyright: contributors to m1038.appcontrol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic

# Replace one file of the Wazuh agent atomically: the new bytes go to a temporary file in the same
# folder, which then takes the file's place in one rename (File.Replace, or File.Move for a new file),
# so the agent never reads half a file. Refuses when the file is not the one the plan was made from.
# With restricted, the file gets a protected DACL (SYSTEM and Administrators only) before any secret
# is written into it. ansible.windows.win_copy cannot do either, hence this module.

$spec = @{
    options = @{
        path = @{ type = 'str'; required = $true }
        src = @{ type = 'str' }
        secret = @{ type = 'str'; no_log = $true }
        expected_sha256 = @{ type = 'str' }
        backup = @{ type = 'str' }
        restricted = @{ type = 'bool'; default = $false }
    }
    mutually_exclusive = @(, @('src', 'secret'))
    required_one_of = @(, @('src', 'secret'))
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$path = $module.Params.path
$adminSids = @('S-1-5-18', 'S-1-5-32-544')

function Get-Sha256Hex {
    param([byte[]]$Data)
    $hasher = [System.Security.Cryptography.SHA256]::Create()
    try {
        return ([System.BitConverter]::ToString($hasher.ComputeHash($Data)) -replace '-', '').ToLowerInvariant()
    }
    finally {
        $hasher.Dispose()
    }
}

function New-RestrictedSecurity {
    $security = [System.Security.AccessControl.FileSecurity]::new()
    $security.SetAccessRuleProtection($true, $false)
    foreach ($sid in $adminSids) {
        $identity = [System.Security.Principal.SecurityIdentifier]::new($sid)
        $rule = [System.Security.AccessControl.FileSystemAccessRule]::new($identity, 'FullControl', 'Allow')
        $security.AddAccessRule($rule)
    }
    return $security
}

function Test-Restricted {
    param([string]$Path)
    $acl = Get-Acl -LiteralPath $Path
    if (-not $acl.AreAccessRulesProtected) {
        return $false
    }
    foreach ($rule in $acl.Access) {
        $sid = $null
        try {
            $sid = $rule.IdentityReference.Translate([System.Security.Principal.SecurityIdentifier]).Value
        }
        catch {
            return $false
        }
        if ($rule.AccessControlType -eq 'Allow' -and $adminSids -notcontains $sid) {
            return $false
        }
    }
    return $true
}

if (-not [System.IO.Path]::IsPathRooted($path)) {
    $module.FailJson("path '$path' is not an absolute path")
}
$folder = [System.IO.Path]::GetDirectoryName($path)
if (-not (Test-Path -LiteralPath $folder -PathType Container)) {
    $module.FailJson("the folder of '$path' does not exist")
}

if ($null -ne $module.Params.src) {
    if (-not (Test-Path -LiteralPath $module.Params.src -PathType Leaf)) {
        $module.FailJson("src '$($module.Params.src)' does not exist on the host")
    }
    $data = [System.IO.File]::ReadAllBytes($module.Params.src)
}
else {
    $data = [System.Text.UTF8Encoding]::new($false).GetBytes($module.Params.secret)
}

$exists = Test-Path -LiteralPath $path -PathType Leaf
$current = $null
$currentSha = 'absent'
if ($exists) {
    $current = [System.IO.File]::ReadAllBytes($path)
    $currentSha = Get-Sha256Hex -Data $current
}
$expected = $module.Params.expected_sha256
if ($expected -and $expected.ToLowerInvariant() -ne $currentSha) {
    $module.FailJson(("{0} changed since the plan was made (it is {1}, the plan read {2}); nothing was written: " +
            "run the role again to plan from the current file") -f $path, $currentSha, $expected.ToLowerInvariant())
}

$newSha = Get-Sha256Hex -Data $data
$contentChanged = $newSha -ne $currentSha
$aclChanged = $module.Params.restricted -and $exists -and -not (Test-Restricted -Path $path)
$module.Result.changed = $contentChanged -or $aclChanged
$module.Result.path = $path
if ($null -ne $module.Params.src) {
    $module.Result.sha256 = $newSha
    $module.Diff.before = @{ path = $path; sha256 = $currentSha }
    $module.Diff.after = @{ path = $path; sha256 = $newSha }
}

if ($module.Result.changed -and -not $module.CheckMode) {
    $security = $null
    if ($module.Params.restricted) {
        $security = New-RestrictedSecurity
    }
    if ($exists -and $module.Params.backup) {
        $backupFolder = [System.IO.Path]::GetDirectoryName($module.Params.backup)
        $null = New-Item -ItemType Directory -Path $backupFolder -Force
        Copy-Item -LiteralPath $path -Destination $module.Params.backup -Force
        $module.Result.backup_file = $module.Params.backup
    }
    if (-not $contentChanged) {
        [System.IO.File]::SetAccessControl($path, $security)
    }
    else {
        $temp = Join-Path -Path $folder -ChildPath ('.m1038-' + [Guid]::NewGuid().ToString('N') + '.tmp')
        try {
            # Created empty, locked down, and only then filled: a secret is never readable by others.
            [System.IO.File]::WriteAllBytes($temp, [byte[]]::new(0))
            if ($null -ne $security) {
                [System.IO.File]::SetAccessControl($temp, $security)
            }
            [System.IO.File]::WriteAllBytes($temp, $data)
            if ($exists) {
                if ($null -ne $security) {
                    # File.Replace keeps the replaced file's DACL: lock that down first.
                    [System.IO.File]::SetAccessControl($path, $security)
                }
                [System.IO.File]::Replace($temp, $path, $null)
            }
            else {
                [System.IO.File]::Move($temp, $path)
            }
        }
        catch {
            if (Test-Path -LiteralPath $temp) {
                Remove-Item -LiteralPath $temp -Force
            }
            $module.FailJson("writing $path failed: $($_.Exception.Message); the file was left as it was", $_)
        }
    }
}
$module.ExitJson()
